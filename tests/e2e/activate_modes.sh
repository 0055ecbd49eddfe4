#!/usr/bin/env bash
# test keeps the default, boot changes only the default (and installs the boot unit), and a
# no-op switch says so and touches nothing.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
m1=$(store_file motd 'one
')
m2=$(store_file motd 'two
')
A=$(mk_top a); link_etc "$A" motd "$m1"; write_profile "$A" etc="{ $(etc_link motd "$m1") }"
B=$(mk_top b); link_etc "$B" motd "$m2"; write_profile "$B" etc="{ $(etc_link motd "$m2") }"
C=$(mk_top c); write_profile "$C" etc='{}'

fl activate "$A" --mode switch >/dev/null
# test: active now, default unchanged, no new generation.
fl activate "$B" --mode test >"$T/test.out"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$B" ] || fail "test: B should be current"
[ "$(cat "$ROOT/etc/static/motd")" = two ] || fail "test: B's files"
[ "$(readlink "$STATE/profiles/system")" = system-1-link ] || fail "test changed the default"
[ ! -e "$STATE/profiles/system-2-link" ] || fail "test created a generation"
fl generations >"$T/gens"
grep -E '^ +1 .*\(default\)$' "$T/gens" >/dev/null || { cat "$T/gens"; fail "1 is default, not current"; }

# switch to what test activated: nothing is re-applied, it only becomes the default.
fl activate "$B" --mode switch >"$T/sw.out"
expect_contains "$T/sw.out" "is already active"
expect_contains "$T/sw.out" "generation 2 is the default"

# boot: default changes, nothing is activated, the boot unit is installed.
fl activate "$C" --mode boot >"$T/boot.out"
expect_contains "$T/boot.out" "generation 3 is the default"
expect_contains "$T/boot.out" "nothing was activated now"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$B" ] || fail "boot activated now"
[ "$(readlink "$STATE/profiles/system")" = system-3-link ] || fail "boot: default"
[ -L "$ROOT/etc/motd" ] || fail "boot removed files"
unit=$ROOT/etc/systemd/system/flakectl-boot.service
expect_contains "$unit" "activate $STATE/profiles/system --mode boot-time"
expect_contains "$unit" "--state-dir $STATE"
[ "$(readlink "$ROOT/etc/systemd/system/sysinit.target.wants/flakectl-boot.service")" = ../flakectl-boot.service ] || fail "boot unit not enabled"
# What the unit does at boot: activate the default generation. A boot empties /run: the plan
# compares with the generation activated last (managed.json), not with nothing.
rm -rf "$ROOT/run"
fl activate "$STATE/profiles/system" --mode boot-time >"$T/boottime.out"
expect_contains "$T/boottime.out" "run/flakectl/current is missing (the machine rebooted); comparing with $B"
expect_contains "$T/boottime.out" "- /etc/motd"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$C" ] || fail "boot unit's command did not activate the default"
[ ! -L "$ROOT/etc/motd" ] || fail "C has no motd"
fl activate "$C" --mode boot >"$T/boot2.out"
expect_contains "$T/boot2.out" "nothing to do"

# A no-op switch: says so, and no file, link or state changes (inode, mtime, content).
fl activate "$C" --mode switch >/dev/null
before=$(snapshot "$ROOT" "$STATE")
sleep 1
fl activate "$C" --mode switch >"$T/noop.out"
expect_contains "$T/noop.out" "nothing to do"
after=$(snapshot "$ROOT" "$STATE")
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); fail "no-op switch touched something"; }
fl activate "$C" --mode test >"$T/noop2.out"
expect_contains "$T/noop2.out" "nothing to do"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "no-op test touched something"

# FLAKECTL_ROOT / FLAKECTL_STATE_DIR mean --root / --state-dir, and relative paths are made
# absolute before they go into links.
(cd "$T" && FLAKECTL_ROOT=root FLAKECTL_STATE_DIR=state "$FLAKECTL" activate "$A" --mode test >/dev/null)
[ "$(readlink "$ROOT/run/flakectl/current")" = "$A" ] || fail "FLAKECTL_ROOT not honoured"
(cd "$T" && "$FLAKECTL" --root root --state-dir state activate "$B" --mode boot >/dev/null)
expect_contains "$unit" "--state-dir $STATE activate"
echo ok
