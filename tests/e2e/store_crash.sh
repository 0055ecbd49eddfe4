#!/usr/bin/env bash
# kill -9 at random moments during `store add` and `store build`, 50 times each: afterwards
# nothing invalid is registered (verify --check-contents finds no missing, corrupt or
# dangling entries; only unregistered leftovers), --repair cleans up, and the next add and
# build succeed.
set -euo pipefail
source "$(dirname "$0")/lib/nix.bash"
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

mkdir -p tree
for i in $(seq 1 300); do echo "file $i" > "tree/f$i"; done
head -c $((2 * 1024 * 1024)) /dev/urandom > tree/big
check_nothing_invalid() {
    fl store verify --check-contents > report || true
    if grep -E "registered but missing|contents changed|dangling|corrupt" report; then
        fail "after $1: something invalid is registered"
    fi
}

kills=0
for i in $(seq 1 50); do
    # A different tree each round, so each round really adds.
    echo "round $i" > tree/round
    fl store add tree > /dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1)) || true
    wait "$pid" 2>/dev/null || true
done
check_nothing_invalid "50 killed adds"
echo "ok: $kills of 50 adds killed mid-way, nothing invalid registered"

script='i=0; /bin/mkdir $out; while [ $i -lt 200 ]; do echo $i > $out/f$i; i=$((i+1)); done'
for i in $(seq 1 50); do
    fl store build --name crashy --builder /bin/sh --arg -c --arg "$script" \
        --env ROUND="$i" > /dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
sleep 0.2 # builders die with their parent (PDEATHSIG); let the last one go
check_nothing_invalid "50 killed builds"
echo "ok: 50 builds killed, nothing invalid registered"

fl store verify --check-contents --repair > /dev/null || fail "repair failed"
fl store verify --check-contents > /dev/null || fail "store not consistent after repair"
echo "final" > tree/round
p=$(fl store add tree) && [ -d "$p" ] || fail "add after crashes"
[ "$(nixo nix-hash --type sha256 "$p")" = "$(nixo nix-hash --type sha256 tree)" ] ||
    fail "added tree differs"
out=$(fl store build --name crashy --builder /bin/sh --arg -c --arg "$script" --env ROUND=1)
[ -f "$out/f199" ] || fail "build after crashes"
fl store verify --check-contents > /dev/null || fail "store not consistent at the end"
echo "ok: the next add and build succeed"
