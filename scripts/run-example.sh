#!/usr/bin/env bash
# flakectl's main job on the bundled example configuration: check every host, then switch
# homelab-node1 under a temporary --root and --state-dir, so the real system is never
# touched, and show what landed there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$work/root"
./build/flakectl --flake . check
mkdir -p "$work/root"
./build/flakectl --flake . switch --host homelab-node1
./build/flakectl generations
echo "--- $work/root now holds:"
find "$work/root" -maxdepth 3 | sed "s|$work/root||" | sort | head -60
