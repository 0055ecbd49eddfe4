#!/usr/bin/env bash
# generations list and delete: never the current or the default one, all or nothing for a
# list of numbers, --older-than skips (and names) the protected ones.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
fl generations >"$T/empty"
expect_contains "$T/empty" "no generations yet"
for n in 1 2 3 4 5; do
    top=$(mk_top g$n); write_profile "$top" packages="[ \"$(store_file pkg$n x)\" ]"
    fl activate "$top" --mode switch >/dev/null
done
# 5 is default and current; make 4 current only (test) and keep 5 default.
fl activate "$T/tops/g4" --mode test >/dev/null
fl generations >"$T/list"
cat "$T/list" >&2
grep -E '^ +4 .*\(current\)$' "$T/list" >/dev/null || fail "4 should be current"
grep -E '^ +5 .*\(default\)$' "$T/list" >/dev/null || fail "5 should be default"
expect_contains "$T/list" "rev unknown"

# Deleting the default or the current one: refused, naming it, and nothing deleted.
if fl generations delete 1 5 >/dev/null 2>"$T/err"; then fail "deleted the default"; fi
expect_contains "$T/err" "refusing to delete generation 5: it is the default generation"
[ -L "$STATE/profiles/system-1-link" ] || fail "1 was deleted although the command was refused"
if fl generations delete 4 >/dev/null 2>"$T/err"; then fail "deleted the current one"; fi
expect_contains "$T/err" "refusing to delete generation 4: it is the current generation"
if fl generations delete 9 >/dev/null 2>"$T/err"; then fail "deleted a missing one"; fi
expect_contains "$T/err" "generation 9 does not exist"
if fl generations delete x >/dev/null 2>"$T/err"; then fail "accepted x"; fi
expect_contains "$T/err" "'x' is not a generation number"

fl generations delete 1 3 >"$T/out"
expect_contains "$T/out" "deleted generation 1"
expect_contains "$T/out" "deleted generation 3"
[ ! -L "$STATE/profiles/system-1-link" ] && [ ! -L "$STATE/profiles/system-3-link" ] || fail "not deleted"

# --older-than: generations 2, 4 and 5 are made 10 days old; 2 goes, 4 and 5 are kept and named.
for n in 2 4 5; do touch -h -d '10 days ago' "$STATE/profiles/system-$n-link"; done
fl generations delete --older-than 7d >"$T/out2"
cat "$T/out2" >&2
expect_contains "$T/out2" "deleted generation 2"
expect_contains "$T/out2" "kept generation 4: it is the current generation"
expect_contains "$T/out2" "kept generation 5: it is the default generation"
fl generations --json >"$T/json"
python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert [x["number"] for x in g]==[4,5], g' "$T/json"
if fl generations delete --older-than 7x >/dev/null 2>"$T/err"; then fail "accepted 7x"; fi
expect_contains "$T/err" "--older-than '7x'"
# A new switch numbers after the highest existing one.
top=$(mk_top g6); write_profile "$top"
fl activate "$top" --mode switch >"$T/out3"
expect_contains "$T/out3" "generation 6 is the default"
# A toplevel activated with test and never made a generation is still shown as current.
top=$(mk_top g7); write_profile "$top" packages="[ \"$(store_file pkg7 x)\" ]"
fl activate "$top" --mode test >/dev/null
fl generations >"$T/list2"
expect_contains "$T/list2" "current: $top (activated with test; not a generation)"
# One activation at a time: a second one while the lock is held is refused.
exec 9<"$STATE"
flock -n 9
if fl activate "$T/tops/g6" --mode switch >/dev/null 2>"$T/err"; then fail "ran while another activation held the lock"; fi
expect_contains "$T/err" "another activation is running"
exec 9>&-
fl activate "$T/tops/g6" --mode switch >/dev/null
echo ok
