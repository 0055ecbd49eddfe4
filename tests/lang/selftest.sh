#!/usr/bin/env bash
# selftest.sh - tests run.sh, not flakectl. With nix-instantiate standing in for flakectl
# (nix-as-flakectl.sh), run.sh must pass every case it is given except the errors whose
# location Nix 2.8 does not report (hand-decided .loc), and fail exactly those, for the
# location only.
# Then, on a copy of the suite with broken expectations, run.sh must report each break.
# Exit 77 (ctest: skipped) without nix-instantiate.
# The known-failures list is about flakectl; the self-test runs nix, so it uses none.
export LANG_KNOWN_FAILURES=/dev/null
set -uo pipefail
here=$(cd -P "$(dirname "$0")" && pwd -P)
command -v nix-instantiate >/dev/null 2>&1 || { echo "nix-instantiate missing" >&2; exit 77; }
# shellcheck source=nixlib.sh
. "$here/nixlib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; bad=$((bad + 1)); fi; }

# 1. Every error case and every 5th other case (recheck.sh already runs all of them through
#    nix; the runner treats every case of a directory alike), from an unrelated directory.
mapfile -t picked < <(list_cases | grep '/errors/'; list_cases | grep -v '/errors/' | sed -n '1~5p')
(cd "$tmp" && FLAKECTL="$here/nix-as-flakectl.sh" bash "$here/run.sh" "${picked[@]}" >"$tmp/full.out" 2>&1)
full_rc=$?
manual=()
for c in "${picked[@]}"; do loc_is_manual "$c" && manual+=("${c#"$here"/}"); done
total=${#picked[@]}
failed_cases=$(grep '^FAIL ' "$tmp/full.out" | sed -E 's/^FAIL ([^:]*):.*/\1/' | sort)
expected_cases=$(printf '%s\n' "${manual[@]}" | sed '/^$/d' | sort)
check "run.sh exits non-zero when a case fails" "[ $full_rc -ne 0 ]"
check "exactly the hand-located errors fail under nix (${#manual[@]} of $total)" \
    '[ "$failed_cases" = "$expected_cases" ]'
check "they fail for the location alone" \
    '! grep "^FAIL " "$tmp/full.out" | grep -v "does not contain the location" | grep -q .'
check "the summary line counts every case" \
    "tail -n1 '$tmp/full.out' | grep -qx '$((total - ${#manual[@]})) passed, ${#manual[@]} failed'"
if [ "$failed_cases" != "$expected_cases" ]; then
    diff <(echo "$expected_cases") <(echo "$failed_cases") | head -n 20
    grep -A6 '^FAIL ' "$tmp/full.out" | head -n 60
fi

# 2. Broken copies: each mutation must be reported.
cp -r "$here" "$tmp/lang"
cp -r "$here/../lib" "$tmp/lib"                     # the oracle wrapper, found beside the suite
L=$tmp/lang
first() { find "$L/$1" -maxdepth 1 -name '*.nix' | LC_ALL=C sort | head -n1; }
e=$(first eval); j=$(first json); z=$(first lazy)
x=$(for c in "$L"/errors/*.nix; do loc_is_manual "$c" || { echo "$c"; break; }; done)
y=$(for c in "$L"/errors/*.nix; do loc_is_manual "$c" || echo "$c"; done | sed -n 2p)
w=$(for c in "$L"/errors/*.nix; do loc_is_manual "$c" || echo "$c"; done | sed -n 3p)
ok=$(find "$L/eval" -maxdepth 1 -name '*.nix' | LC_ALL=C sort | sed -n 2p)
printf ' ' >>"${e%.nix}.exp"                      # one extra byte
sed -i '1s/.$/X/' "${j%.nix}.exp"
printf 'x' >"${z%.nix}.exp"
echo "a message nobody prints" >"${x%.nix}.msg"
sed -i '1s/.*/999:1/' "${y%.nix}.loc"
cp "$e" "$w"                                        # an "error" case that succeeds
(cd / && FLAKECTL="$here/nix-as-flakectl.sh" bash "$L/run.sh" "$e" "$j" "$z" "$x" "$y" "$w" "$ok" \
    >"$tmp/mut.out" 2>&1)
mut_rc=$?
check "broken copies: exit non-zero" "[ $mut_rc -ne 0 ]"
check "broken copies: 1 passed, 6 failed" "tail -n1 '$tmp/mut.out' | grep -qx '1 passed, 6 failed'"
for c in "$e" "$j" "$z" "$x" "$y" "$w"; do
    r=${c#"$L"/}
    check "broken copies: $r reported" "grep -q '^FAIL $r:' '$tmp/mut.out'"
done
check "an extra byte shows in the diff" "grep -q '^    +' '$tmp/mut.out'"
check "a wrong message is named" "grep -q 'does not contain .a message nobody prints' '$tmp/mut.out'"
check "a wrong location is named" "grep -q 'does not contain the location .*:999:1' '$tmp/mut.out'"
check "a success where an error is expected is named" "grep -q 'exit status 0, expected 1' '$tmp/mut.out'"

# 3. recheck.sh notices hand edits (on the broken copies of step 2) and accepts the originals.
(bash "$L/recheck.sh" "$e" "$y" >"$tmp/re.out" 2>&1)
re_rc=$?
check "recheck: a hand-edited .exp and .loc fail" \
    "[ $re_rc -ne 0 ] && grep -q '^FAIL eval/.*exp differs' '$tmp/re.out' && grep -q '^FAIL errors/.*loc differs' '$tmp/re.out'"
(bash "$here/recheck.sh" "$here/${e#"$L"/}" "$here/${y#"$L"/}" >"$tmp/re2.out" 2>&1)
check "recheck: the committed files pass" "[ $? -eq 0 ]"

# 4. A missing binary is a failure, not a pass.
(FLAKECTL=/nonexistent/flakectl bash "$here/run.sh" >"$tmp/none.out" 2>&1)
check "a missing FLAKECTL fails" "[ $? -ne 0 ] && tail -n1 '$tmp/none.out' | grep -qx '0 passed, 1 failed'"

[ "$bad" -eq 0 ] && echo "runner self-test: all checks passed" || echo "runner self-test: $bad checks failed"
[ "$bad" -eq 0 ]
