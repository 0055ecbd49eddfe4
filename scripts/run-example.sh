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
mkdir -p "$work/root/etc/ssh" "$work/flake"
# The demo host key (example-only, see secrets/example-identities/README.md) stands in for the
# machine's ssh host key, which age.identityPaths names by default: the example's secrets
# are encrypted to it and decrypt under the temporary root.
install -m 0600 secrets/example-identities/homelab-node1.agekey "$work/root/etc/ssh/ssh_host_ed25519_key"
cp -r flake.nix hosts modules home secrets "$work/flake/"
cd "$work/flake"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# The k3s module runs the pinned upstream k3s release, downloaded into the store by
# pkgs.fetchurl and checked against its sha256. Offline that download fails (with the URL in
# the error); the demo then skips k3s, as a NixOS user would disable a service whose source
# cannot be fetched, instead of failing every later step (docs/packages-upstream.md).
step "the k3s binary of homelab-node1 (pkgs.fetchurl of the pinned upstream release)"
if "$fl" build --host homelab-node1 --no-link >/dev/null 2>"$work/k3s.err"; then
  echo "downloaded, verified against its sha256 and installed as bin/k3s in the store"
elif grep -q "cannot download" "$work/k3s.err"; then
  sed 's/^/  /' "$work/k3s.err"
  echo "skipped: k3s on homelab-node1 and homelab-node2 (this machine cannot download its"
  echo "binary); this demo copy of the flake sets homelab.k3s.enable = false"
  printf '%s\n' '{ lib, ... }: { homelab.k3s.enable = lib.mkForce false; }' > modules/server/offline-demo.nix
  sed -i 's|imports = \[ ./k3s.nix|imports = [ ./offline-demo.nix ./k3s.nix|' modules/server/default.nix
else
  cat "$work/k3s.err" >&2
  exit 1
fi
step "flakectl check (every host of the example)"
"$fl" check
step "flakectl switch --host homelab-node1 (into $work/root)"
"$fl" switch --host homelab-node1
step "secrets decrypted under the temporary root (names, modes, owners; never content)"
ls -l "$work/root/run/flakectl/secrets/"
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
