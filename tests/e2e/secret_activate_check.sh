#!/usr/bin/env bash
# flakectl check catches a host that could not decrypt one of its secrets: its
# age.hostPublicKey must be among the file's publicKeys in secrets/secrets.nix. The bundled
# example passes; dropping homelab-node1 from k3s-token.age's keys fails that host only.
# The same again with homelab-node1's key replaced by a post-quantum age1pq1… recipient
# (about 2000 characters) in both the host and secrets.nix.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
node1=age158mza0lnwe8np208kmund5dnkvdwdgjcm0nd66em8584hyutvuhswzzcpu
source "$(dirname "$0")/lib/example.bash"

# check_host_key KIND KEY: with homelab-node1's key set to KEY, check passes; without it
# among k3s-token.age's keys, check fails node1 only and names the secret and the key.
check_host_key() {
    local kind=$1 key=$2 f=$work/flake-$1
    example_copy "$f"
    if [ "$key" != "$node1" ]; then
        sed -i "s|$node1|$key|" "$f/hosts/homelab-node1/default.nix" "$f/secrets/secrets.nix"
        grep -qF "$key" "$f/hosts/homelab-node1/default.nix" || fail "$kind: the test's edit of the host did not apply"
        grep -qF "$key" "$f/secrets/secrets.nix" || fail "$kind: the test's edit of secrets.nix did not apply"
    fi
    run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
    expect_eq "$kind: check exit with the key listed" 0 "$rc"
    sed -i 's|"k3s-token.age".publicKeys = \[ alice \] ++ servers;|"k3s-token.age".publicKeys = [ alice homelab-node2 ];|' "$f/secrets/secrets.nix"
    grep -q '\[ alice homelab-node2 \]' "$f/secrets/secrets.nix" || fail "$kind: the test's edit of secrets.nix did not apply"
    run_fl --flake "$f" check --host homelab-node1 --host homelab-node2
    expect_eq "$kind: check exit with a missing recipient" 1 "$rc"
    expect_contains "$kind: node1 fails" "FAIL homelab-node1" "$out$err"
    expect_contains "$kind: node2 passes" "ok   homelab-node2" "$out$err"
    expect_contains "$kind: names the secret" "age.secrets.k3s-token.file = secrets/k3s-token.age" "$out$err"
    expect_contains "$kind: names the key" "$key" "$out$err"
}

check_host_key x25519 "$node1"
"$FLAKECTL" secret keygen -pq -o "$work/node1-pq.key" 2>/dev/null || fail "keygen -pq"
pq=$("$FLAKECTL" secret keygen -y "$work/node1-pq.key")
case "$pq" in age1pq1*) ;; *) fail "not a post-quantum recipient: $pq" ;; esac
check_host_key pq "$pq"
echo "secret_activate_check: all assertions passed"
