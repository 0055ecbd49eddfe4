#!/usr/bin/env bash
# flakectl's main job on the bundled example configuration: check every host, then build
# homelab-node1, all under a temporary --state-dir (and --root) so the real system is never
# touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$work/root"
./build/flakectl --flake . check
toplevel=$(./build/flakectl --flake . build --host homelab-node1 --out-link "$work/result")
echo "built $toplevel:"
find "$work/result/" -maxdepth 2 | sed "s|$work/result/||" | sort | head -40
