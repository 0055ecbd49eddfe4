#!/usr/bin/env bash
# kill -9 at random points of a switch under --root: `current` is never dangling (it names A
# or B), and the next switch (or rollback) succeeds and leaves exactly what a clean switch
# leaves (homes, which are never removed, aside). FLAKECTL_KILL_TRIALS sets the number of
# trials (default 25: each costs about three fsync-bound switches; run 100+ after changing
# the engine).
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
trials=${FLAKECTL_KILL_TRIALS:-25}
base_etc
# Two generations that differ in many ways: 40 /etc links, copies, home links, users, units.
etcA="" etcB="" homeA="" homeB=""
A=$(mk_top a); B=$(mk_top b)
for i in $(seq 1 40); do
    a=$(store_file "f$i.conf" "a $i
"); b=$(store_file "f$i.conf" "b $i
")
    link_etc "$A" "d$((i % 5))/f$i.conf" "$a"
    [ $((i % 7)) -eq 0 ] || link_etc "$B" "d$((i % 5))/f$i.conf" "$b"
    etcA+="$(etc_link "d$((i % 5))/f$i.conf" "$a"),"
    [ $((i % 7)) -eq 0 ] || etcB+="$(if [ $((i % 3)) -eq 0 ]; then etc_copy "d$((i % 5))/f$i.conf" "$b" 0640; else etc_link "d$((i % 5))/f$i.conf" "$b"; fi),"
    homeA+="\"h/f$i\": { \"source\": \"$a\", \"executable\": false, \"copy\": $([ $((i % 4)) -eq 0 ] && echo true || echo false) },"
    [ $((i % 6)) -eq 0 ] || homeB+="\"h/f$i\": { \"source\": \"$b\", \"executable\": false, \"copy\": $([ $((i % 4)) -eq 0 ] && echo true || echo false) },"
done
for u in a b c; do printf '[Service]\n' >"$A/units/$u.service"; printf '[Service]\n#b\n' >"$B/units/$u.service"; done
write_profile "$A" etc="{ ${etcA%,} }" users="{ $(user alice), $(user bob) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { ${homeA%,} } } }" \
    units="{ $(unit a.service 1 1), $(unit b.service 1 1) }"
write_profile "$B" etc="{ ${etcB%,} }" users="{ $(user alice), $(user carol) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { ${homeB%,} } } }" \
    units="{ $(unit b.service 2 1), $(unit c.service 1 1) }"

fl activate "$A" --mode switch >/dev/null
cp -a "$ROOT" "$T/base-root"; cp -a "$STATE" "$T/base-state"
# The reference: what a clean switch to B leaves, and what a clean rollback to A leaves.
run_in() { "$FLAKECTL" --root "$1" --state-dir "$2" "${@:3}"; }
fresh() { rm -rf "$T/r" "$T/s"; cp -a "$T/base-root" "$T/r"; cp -a "$T/base-state" "$T/s"; }
fresh
start=$(date +%s%N)
run_in "$T/r" "$T/s" activate "$B" --mode switch >/dev/null
dur_us=$(( ($(date +%s%N) - start) / 1000 ))
refB=$(content_snapshot "$T/r" | grep -v -e '/run/flakectl' -e '^\. ' -e '^\./home/carol ')
run_in "$T/r" "$T/s" rollback >/dev/null
refA=$(content_snapshot "$T/r" | grep -v -e '/run/flakectl' -e '^\. ' -e '^\./home/carol ')
echo "a clean switch takes ${dur_us}us; $trials trials" >&2

killed=0
for trial in $(seq 1 "$trials"); do
    fresh
    delay_us=$(( (RANDOM * 32768 + RANDOM) % (dur_us + 1) ))
    "$FLAKECTL" --root "$T/r" --state-dir "$T/s" activate "$B" --mode switch >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%06d' "$delay_us")"
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1)) || true
    wait "$pid" 2>/dev/null || true
    cur=$(readlink "$T/r/run/flakectl/current") || fail "trial $trial: current is missing"
    [ "$cur" = "$A" ] || [ "$cur" = "$B" ] || fail "trial $trial: current points at $cur"
    [ -e "$T/r/run/flakectl/current" ] || fail "trial $trial: current is dangling"
    if [ $((trial % 2)) -eq 0 ]; then
        run_in "$T/r" "$T/s" activate "$B" --mode switch >"$T/o" 2>&1 || { cat "$T/o" >&2; fail "trial $trial: the next switch failed"; }
        got=$(content_snapshot "$T/r" | grep -v -e '/run/flakectl' -e '^\. ' -e '^\./home/carol ')
        [ "$got" = "$refB" ] || { diff <(echo "$refB") <(echo "$got") >&2; fail "trial $trial (delay ${delay_us}us): root differs from a clean switch to B"; }
    else
        # Roll back to generation 1 (A), whatever the killed switch got to.
        run_in "$T/r" "$T/s" rollback --to 1 >"$T/o" 2>&1 || { cat "$T/o" >&2; fail "trial $trial: rollback failed"; }
        got=$(content_snapshot "$T/r" | grep -v -e '/run/flakectl' -e '^\. ' -e '^\./home/carol ')
        [ "$got" = "$refA" ] || { diff <(echo "$refA") <(echo "$got") >&2; fail "trial $trial (delay ${delay_us}us): root differs from generation A"; }
    fi
done
echo "ok: $trials trials, $killed killed before finishing" >&2
