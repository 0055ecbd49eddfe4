#!/usr/bin/env bash
# flakectl's main job on the bundled example configuration, under a temporary --root and
# --state-dir so the real system is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/flakectl eval --file flake.nix --strict
