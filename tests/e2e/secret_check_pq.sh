#!/usr/bin/env bash
# flakectl check with a post-quantum host key: homelab-node1's age.hostPublicKey becomes an
# age1pq1… recipient (about 2000 characters). Listed in secrets/secrets.nix for its
# secrets, check passes; dropped from k3s-token.age's keys, check fails that host and names
# the secret and the key.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
f=$work/flake
mkdir -p "$f"
cp -r "$FLAKECTL_SRC/flake.nix" "$FLAKECTL_SRC/hosts" "$FLAKECTL_SRC/modules" "$FLAKECTL_SRC/home" "$FLAKECTL_SRC/secrets" "$f/"
"$FLAKECTL" secret keygen -pq -o "$work/node1-pq.key" 2>/dev/null || fail "keygen -pq"
pq=$("$FLAKECTL" secret keygen -y "$work/node1-pq.key")
case "$pq" in age1pq1*) ;; *) fail "not a post-quantum recipient: $pq" ;; esac
old=age158mza0lnwe8np208kmund5dnkvdwdgjcm0nd66em8584hyutvuhswzzcpu
sed -i "s|$old|$pq|" "$f/hosts/homelab-node1/default.nix" "$f/secrets/secrets.nix"
grep -qF "$pq" "$f/hosts/homelab-node1/default.nix" || fail "the test's edit of the host did not apply"
grep -qF "$pq" "$f/secrets/secrets.nix" || fail "the test's edit of secrets.nix did not apply"
run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
expect_eq "check exit with the PQ key listed" 0 "$rc"
sed -i 's|"k3s-token.age".publicKeys = \[ alice \] ++ servers;|"k3s-token.age".publicKeys = [ alice homelab-node2 ];|' "$f/secrets/secrets.nix"
grep -q '\[ alice homelab-node2 \]' "$f/secrets/secrets.nix" || fail "the test's second edit of secrets.nix did not apply"
run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
expect_eq "check exit with the PQ key missing" 1 "$rc"
expect_contains "node1 fails" "FAIL homelab-node1" "$out$err"
expect_contains "node2 passes" "ok   homelab-node2" "$out$err"
expect_contains "names the secret" "age.secrets.k3s-token.file = secrets/k3s-token.age" "$out$err"
expect_contains "names the PQ key" "$pq" "$out$err"
echo "secret_check_pq: all assertions passed"
