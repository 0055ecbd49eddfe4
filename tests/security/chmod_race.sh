#!/usr/bin/env bash
# Issue 20, finding 1: a home's owner swaps a symlink in the moment flakectl renames a
# `copy = true` file into the home. Setting the mode by name after the rename (fchmodat
# follows links) made root chmod the link's target. A racer running as the home's user
# swaps a link to a root-owned 0600 file over every copy that lands; a bounded run of
# switches must never change that file's mode or owner.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
: "${SECURITY_RACER:?run through ctest (SECURITY_RACER is the racer binary)}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a home owned by another user)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
base_etc
c1=$(store_file copied.txt 'declared content one
')
c2=$(store_file copied.txt 'declared content two
')
homefiles() {
    printf '{ "alice": { "home": "/home/alice", "files": { "copied.txt": { "source": "%s", "executable": false, "copy": true } } } }' "$1"
}
A=$(mk_top a); write_profile "$A" users="{ $(user alice) }" home="$(homefiles "$c1")"
B=$(mk_top b); write_profile "$B" users="{ $(user alice) }" home="$(homefiles "$c2")"
fl activate "$A" --mode switch >/dev/null
uid=$(grep '^alice:' "$ROOT/etc/passwd" | cut -d: -f3)
gid=$(grep '^alice:' "$ROOT/etc/passwd" | cut -d: -f4)
[ "$(stat -c %u "$ROOT/home/alice")" = "$uid" ] || fail "the home should belong to alice"

# What the attacker wants readable: root's, mode 0600, outside the home.
victim=$ROOT/etc/victim
printf 'root only\n' >"$victim"
chown 0:0 "$victim"
chmod 0600 "$victim"
chmod 0755 "$T" "$ROOT" "$ROOT/home"

# Bounded: at most 100 switches and 45 seconds of racing (the racer stops itself at 60).
setpriv --reuid="$uid" --regid="$gid" --clear-groups \
    "$SECURITY_RACER" "$ROOT/home/alice" copied.txt "$victim" 60 >"$T/racer.out" &
racer=$!
trap 'kill $racer 2>/dev/null || true; rm -rf "$T"' EXIT
sleep 0.2
i=0 won=0 ok=0
deadline=$((SECONDS + 45))
while [ $i -lt 100 ] && [ $SECONDS -lt $deadline ]; do
    # Whatever the racer left at the name goes, so each switch copies the file again.
    rm -f "$ROOT/home/alice/copied.txt"
    if [ $((i % 2)) = 0 ]; then top=$B; else top=$A; fi
    if fl activate "$top" --mode switch >"$T/out" 2>&1; then ok=$((ok + 1)); fi
    [ -L "$ROOT/home/alice/copied.txt" ] && won=$((won + 1))
    got=$(stat -c '%a %u %g' "$victim")
    if [ "$got" != "600 0 0" ]; then
        cat "$T/out"
        fail "switch $i: the root-owned 0600 file $victim is now '$got' (a chmod followed the link alice swapped in)"
    fi
    [ "$(cat "$victim")" = "root only" ] || fail "switch $i: $victim was overwritten"
    i=$((i + 1))
done
kill $racer 2>/dev/null || true
wait $racer 2>/dev/null || true
echo "$i switches raced ($ok exited 0); the racer's link was in place after $won of them; $(cat "$T/racer.out")"
[ $i -ge 10 ] || fail "only $i switches ran: the race was not exercised"
# The racer swapped its link in after the copy landed, yet the copy flakectl wrote was
# complete and alice's before that: a switch with no racer leaves the declared content.
if [ "$top" = "$A" ]; then last=$B want=$c2; else last=$A want=$c1; fi
rm -f "$ROOT/home/alice/copied.txt"
fl activate "$last" --mode switch >/dev/null
f=$ROOT/home/alice/copied.txt
[ -f "$f" ] && [ ! -L "$f" ] || { ls -la "$ROOT/home/alice"; fail "copied.txt should be a regular file"; }
cmp -s "$f" "$want" || fail "copied.txt content"
[ "$(stat -c '%a %u' "$f")" = "644 $uid" ] || fail "copied.txt mode/owner: $(stat -c '%a %u' "$f")"
