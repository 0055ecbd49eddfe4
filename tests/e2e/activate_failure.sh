#!/usr/bin/env bash
# A step that fails midway (an activation script exiting 1): the previous generation is put
# back, the error names the step and what was restored, and the root stays usable.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
m1=$(store_file motd 'gen one
')
m2=$(store_file motd 'gen two
')
extra=$(store_file extra.conf 'x=1
')
A=$(mk_top a); link_etc "$A" motd "$m1"
write_profile "$A" etc="{ $(etc_link motd "$m1") }" users="{ $(user alice) }"
fl activate "$A" --mode switch >/dev/null
snap_a=$(content_snapshot "$ROOT")
state_a=$(cat "$STATE/activation/managed.json")

B=$(mk_top b); link_etc "$B" motd "$m2"; link_etc "$B" extra.conf "$extra"
printf 'echo "first ran" > "$FLAKECTL_ROOT/first-ran"\n' >"$B/activation/first.sh"
printf 'echo "broken script says no" >&2\nexit 1\n' >"$B/activation/broken.sh"
write_profile "$B" etc="{ $(etc_link motd "$m2"), $(etc_copy extra.conf "$extra" 0644) }" \
    users="{ $(user alice), $(user bob) }" scripts="[ $(script first), $(script broken) ]"
if fl activate "$B" --mode switch >"$T/out" 2>"$T/err"; then fail "a failing script did not fail the switch"; fi
cat "$T/out" "$T/err" >&2
expect_contains "$T/err" "activation failed at step 'activation script broken'"
expect_contains "$T/err" "activation script 'broken' exited with status 1"
expect_contains "$T/err" "restored $A"
expect_contains "$T/err" "broken script says no"
# The script ran, so its own side effect stays; bob's new home stays too (homes hold user
# data and are never removed); everything else is A's again.
rm -f "$ROOT/first-ran"
[ -d "$ROOT/home/bob" ] && [ -z "$(ls -A "$ROOT/home/bob")" ] || fail "bob's home should stay, empty"
rmdir "$ROOT/home/bob"
[ "$snap_a" = "$(content_snapshot "$ROOT")" ] || { diff <(echo "$snap_a") <(content_snapshot "$ROOT") >&2; fail "root differs from generation A after the restore"; }
grep -q '^bob:' "$ROOT/etc/passwd" && fail "bob should be gone again"
[ "$(readlink "$STATE/profiles/system")" = system-1-link ] || fail "default changed"
[ ! -e "$STATE/profiles/system-2-link" ] || fail "a generation was made for a failed switch"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$A" ] || fail "current changed"
[ "$state_a" = "$(cat "$STATE/activation/managed.json")" ] || fail "managed.json is not A's"
# The host's record: still generation 1 and A, with the failure as its last error.
[ "$(host_record generation)" = 1 ] || fail "record: generation $(host_record generation)"
[ "$(host_record toplevel)" = "$A" ] || fail "record: toplevel $(host_record toplevel)"
host_record lastError | grep -q "activation script 'broken' exited with status 1" ||
    fail "record: lastError is '$(host_record lastError)'"

# A failure after --backup-ext moved an admin's file aside: the file is moved back.
echo "admin's extra.conf" >"$ROOT/etc/extra.conf"
snap_a2=$(content_snapshot "$ROOT")
if fl activate "$B" --mode switch --backup-ext bak >"$T/out" 2>"$T/err"; then fail "should fail again"; fi
expect_contains "$T/out" "moved /etc/extra.conf aside to /etc/extra.conf.bak"
rm -f "$ROOT/first-ran"
rmdir "$ROOT/home/bob"
[ "$snap_a2" = "$(content_snapshot "$ROOT")" ] || { diff <(echo "$snap_a2") <(content_snapshot "$ROOT") >&2; fail "backup not moved back after the failure"; }
rm "$ROOT/etc/extra.conf"

# Usable afterwards: a fixed B switches, and rollback works.
printf 'true\n' >"$B/activation/broken.sh"
fl activate "$B" --mode switch >/dev/null
[ "$(readlink "$ROOT/run/flakectl/current")" = "$B" ] || fail "fixed B did not switch"
cmp -s "$ROOT/etc/extra.conf" "$extra" || fail "extra.conf"
fl rollback >/dev/null
[ "$snap_a" = "$(content_snapshot "$ROOT" | grep -v -e first-ran -e home/bob)" ] || fail "rollback after the failure"

# A failure on the very first activation puts the root back as it was before flakectl.
R2=$T/root2; S2=$T/state2; mkdir -p "$R2/etc"
cp -a "$ROOT/../root/etc/group" "$R2/etc/group"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$R2/etc/passwd"
before=$(content_snapshot "$R2")
printf 'exit 3\n' >"$B/activation/broken.sh"
if "$FLAKECTL" --root "$R2" --state-dir "$S2" activate "$B" --mode switch >"$T/o2" 2>"$T/e2"; then fail "first activation should fail"; fi
expect_contains "$T/e2" "restored the state before the first activation"
[ "$before" = "$(content_snapshot "$R2" | grep -v -e first-ran -e '\./home')" ] || { diff <(echo "$before") <(content_snapshot "$R2") >&2; fail "first failed activation left traces"; }
echo ok
