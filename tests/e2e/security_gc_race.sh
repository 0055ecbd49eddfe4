#!/usr/bin/env bash
# security_gc_race.sh - gc racing a switch (issue 20, finding 2). Each round changes the flake,
# starts `switch` (whose activation script takes a while) and runs `gc` in a loop while it
# builds and activates. The toplevel being activated is a GC root from the moment it is
# built until the activation ends, so every switch succeeds and every link (current, the
# default, each generation) points at a path that exists and `store verify` calls valid.
# Then a killed activation: its toplevel stays rooted until the next activation recovers.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
F=$T/flake
mkdir -p "$F"
export XDG_CACHE_HOME=$T/cache
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
host_flake "$F"
host() { # ROUND SLEEP
    cat >"$F/host.nix" <<EOF
{ ... }: {
  networking.hostName = "h";
  environment.etc."round".text = "round $1\n";
  system.activationScripts.slow.text = "sleep $2";
}
EOF
}

check_links() { # WHAT
    local l t
    for l in "$ROOT/run/flakectl/current" "$STATE"/profiles/system "$STATE"/profiles/system-*-link; do
        [ -L "$l" ] || continue
        t=$(readlink -f "$l") || fail "$1: $l does not resolve"
        [ -f "$t/profile.json" ] || fail "$1: $l points at a deleted toplevel $t"
    done
    fl store verify >"$T/verify" 2>&1 || { cat "$T/verify" >&2; fail "$1: store verify fails"; }
}

rounds=${SECURITY_GC_ROUNDS:-4}
for r in $(seq 1 "$rounds"); do
    host "$r" 1.5
    fl --flake "$F" switch --host h >"$T/sw.out" 2>"$T/sw.err" &
    sw=$!
    # gc as fast as it goes for as long as the switch runs (bounded by the switch itself).
    gcs=0
    while kill -0 "$sw" 2>/dev/null; do
        fl gc >>"$T/gc.out" 2>&1 || { cat "$T/gc.out" >&2; fail "round $r: gc failed"; }
        gcs=$((gcs + 1))
        sleep 0.2
    done
    wait "$sw" || { cat "$T/sw.out" "$T/sw.err" >&2; fail "round $r: switch failed while gc ran"; }
    [ "$gcs" -ge 2 ] || fail "round $r: gc ran only $gcs times during the switch"
    grep -qx "round $r" "$ROOT/etc/static/round" || fail "round $r: /etc/static/round is $(cat "$ROOT/etc/static/round" 2>&1)"
    check_links "round $r"
done
fl gc >/dev/null 2>&1
check_links "after the last gc"

# kill -9 in the middle of the activation script: the half-activated toplevel is rooted by
# the activation's record, so gc keeps it; the next switch recovers and then lets it go.
host killed 30
# Its own session, so the kill takes the activation script's sleep too (a crash does).
setsid "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" switch --host h >"$T/k.out" 2>&1 &
k=$!
for _ in $(seq 1 100); do
    grep -q "activating" "$T/k.out" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
kill -9 -- "-$k"
wait "$k" 2>/dev/null || true
half=$(sed -n 's/^activating \([^ ]*\).*/\1/p' "$T/k.out")
[ -n "$half" ] || { cat "$T/k.out" >&2; fail "the killed switch never started activating"; }
fl gc >/dev/null
[ -f "$half/profile.json" ] || fail "gc deleted the toplevel of an interrupted activation"
host after 0
fl --flake "$F" switch --host h >"$T/a.out" 2>&1 || { cat "$T/a.out" >&2; fail "switch after the kill"; }
fl gc >/dev/null
[ ! -e "$half" ] || fail "the interrupted toplevel stayed rooted after the recovery"
check_links "after recovery"
echo "ok: $rounds rounds"
