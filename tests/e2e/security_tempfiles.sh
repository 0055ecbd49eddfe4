#!/usr/bin/env bash
# security_tempfiles.sh - temporaries a killed command leaves (issue 20): build directories
# (state/tmp/build-*), half-copied paths, registry and record files that never got renamed.
# The next store or activation command sweeps them under its lock, so `store verify` passes
# without --repair; a temporary that a running process still uses is never touched.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
cd "$T"
slow='/bin/mkdir $out; /bin/sleep "$SLEEP"; echo done > $out/f'
# In the background the binary itself must be the job, so that kill -9 hits flakectl.
flx() { exec "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" "$@"; }

# Builds killed mid-way, for real (the builder sleeps, so each dies inside its build dir).
for i in 1 2 3; do
    flx store build --name killed --builder /bin/sh --arg -c --arg "$slow" --env SLEEP=5 \
        --env ROUND="$i" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
        compgen -G "$STATE/tmp/build-*" >/dev/null && break
        sleep 0.1
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
done
sleep 0.3 # builders die with their parent (PDEATHSIG)
left=$(compgen -G "$STATE/tmp/build-*" | wc -l)
[ "$left" -ge 1 ] || fail "the killed builds left no build directory (the test did not kill mid-build)"
# What the other killed writers leave, as they name their temporaries.
mkdir -p "$STATE/store/.tmp-AbC123/x" "$STATE/activation" "$STATE/profiles" "$STATE/gcroots/auto"
echo '{' >"$STATE/db/$(printf 'a%.0s' $(seq 1 32)).json.tmp-Zz9Yy8"
echo '{' >"$STATE/activation/managed.json.tmp-Qq1Ww2"
echo '{' >"$STATE/activation/ids.json.tmp-Ee3Rr4"
ln -s /nowhere "$STATE/profiles/system.tmp-4242-0"
ln -s /nowhere "$STATE/gcroots/auto/abc.tmp-4242-0"

# Any store command sweeps the store's (here a read-only query).
fl store query-valid /nonexistent >/dev/null 2>&1 || true
for f in "$STATE"/tmp/build-* "$STATE"/store/.tmp-* "$STATE"/db/*.tmp-* "$STATE"/gcroots/auto/*.tmp-*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    fail "left after a store command: $f"
done
fl store verify >"$T/verify" 2>&1 || { cat "$T/verify" >&2; fail "store verify fails after the sweep"; }

# Any activation sweeps the activation's records and links.
A=$(mk_top a)
write_profile "$A"
fl activate "$A" --mode switch >/dev/null
for f in "$STATE"/activation/*.tmp-* "$STATE"/profiles/*.tmp-*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    fail "left after an activation: $f"
done

# A build in progress keeps its directory: store commands running beside it see its lock.
flx store build --name live --builder /bin/sh --arg -c --arg "$slow" --env SLEEP=2 >"$T/live" 2>&1 &
pid=$!
for _ in $(seq 1 50); do
    compgen -G "$STATE/tmp/build-*" >/dev/null && break
    sleep 0.1
done
compgen -G "$STATE/tmp/build-*" >/dev/null || fail "the live build made no build directory"
for _ in 1 2 3 4 5; do
    fl store query-valid /nonexistent >/dev/null 2>&1 || true
    sleep 0.2
done
wait "$pid" || { cat "$T/live" >&2; fail "a store command beside a running build broke it"; }
[ "$(cat "$(cat "$T/live")/f")" = done ] || fail "the live build's output"
fl store verify >/dev/null 2>&1 || fail "verify at the end"
echo "ok: $left killed build directories swept"
