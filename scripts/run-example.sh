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
mkdir -p "$work/root/etc/ssh"
# The demo host key (example-only, see secrets/example-identities/README.md) stands in for the
# machine's ssh host key, which age.identityPaths names by default: the example's secrets
# are encrypted to it and decrypt under the temporary root.
install -m 0600 secrets/example-identities/homelab-node1.agekey "$work/root/etc/ssh/ssh_host_ed25519_key"
./build/flakectl --flake . switch --host homelab-node1
./build/flakectl generations
echo "--- secrets decrypted under the temporary root (names, modes, owners; never content):"
ls -l "$work/root/run/flakectl/secrets/"
echo "--- $work/root now holds:"
find "$work/root" -maxdepth 3 | sed "s|$work/root||" | sort | head -60
