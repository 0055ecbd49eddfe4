#!/usr/bin/env bash
# flakectl's main job on the bundled example configuration, under a temporary --root and
# --state-dir so the real system is never touched: check every host, switch homelab-node1,
# change the configuration and switch again (showing the plan), list the generations and
# roll back.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
fl=$PWD/build/flakectl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$work/root" XDG_CACHE_HOME="$work/cache"
mkdir -p "$work/root" "$work/flake"
cp -r flake.nix hosts modules home secrets "$work/flake/"
cd "$work/flake"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step "flakectl check (every host of the example)"
"$fl" check
step "flakectl switch --host homelab-node1 (into $work/root)"
"$fl" switch --host homelab-node1
step "change the configuration: a new motd line and one more /etc file"
sed -i 's|managed by flakectl: local changes|managed by flakectl (changed by the demo): local changes|' modules/common/default.nix
sed -i 's|environment.etc."hostname-note".text = "the control plane lives here\\n";|&\n  environment.etc."demo.conf".text = "added by the demo\\n";|' hosts/homelab-node1/default.nix
step "flakectl dry-activate --host homelab-node1 (the plan; nothing changes)"
"$fl" dry-activate --host homelab-node1
step "flakectl switch --host homelab-node1"
"$fl" switch --host homelab-node1
step "flakectl generations"
"$fl" generations
step "flakectl rollback"
"$fl" rollback
step "flakectl generations"
"$fl" generations
