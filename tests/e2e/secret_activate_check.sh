#!/usr/bin/env bash
# flakectl check catches a host that could not decrypt one of its secrets: its
# age.hostPublicKey must be among the file's publicKeys in secrets/secrets.nix. The bundled
# example passes; dropping homelab-node1 from k3s-token.age's keys fails that host only.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
f=$work/flake
mkdir -p "$f"
cp -r "$FLAKECTL_SRC/flake.nix" "$FLAKECTL_SRC/hosts" "$FLAKECTL_SRC/modules" "$FLAKECTL_SRC/home" "$FLAKECTL_SRC/secrets" "$f/"
run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
expect_eq "example check exit" 0 "$rc"
sed -i 's|"k3s-token.age".publicKeys = \[ alice \] ++ servers;|"k3s-token.age".publicKeys = [ alice homelab-node2 ];|' "$f/secrets/secrets.nix"
grep -q '\[ alice homelab-node2 \]' "$f/secrets/secrets.nix" || fail "the test's edit of secrets.nix did not apply"
run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
expect_eq "check exit with a missing recipient" 1 "$rc"
expect_contains "node1 fails" "FAIL homelab-node1" "$out$err"
expect_contains "node2 passes" "ok   homelab-node2" "$out$err"
expect_contains "names the secret" "age.secrets.k3s-token.file = secrets/k3s-token.age" "$out$err"
expect_contains "names the key" "age158mza0lnwe8np208kmund5dnkvdwdgjcm0nd66em8584hyutvuhswzzcpu" "$out$err"
echo "secret_activate_check: all assertions passed"
