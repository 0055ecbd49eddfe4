#!/usr/bin/env bash
# run.sh [CASE...] - runs the conformance suite against $FLAKECTL (default: build/flakectl of
# this checkout). Works from any working directory; each case runs from a scratch directory.
#   eval/*.nix    flakectl eval --strict --file CASE         stdout == .exp, exit 0
#   json/*.nix    flakectl eval --strict --json --file CASE  stdout == .exp, exit 0
#   lazy/*.nix    flakectl eval --file CASE                  stdout == .exp, exit 0
#   errors/*.nix  flakectl eval --strict --file CASE         exit 1, empty stdout, stderr's
#                 first line starts "error: ", stderr contains the .msg text and
#                 "CASE:LINE:COL" with LINE:COL from the first line of .loc (or
#                 "DIR/PATH:LINE:COL" when .loc says PATH:LINE:COL: an error in a file
#                 the case imports, PATH relative to the case's directory)
# Prints one block per failure and then "N passed, N failed" alone on a line; exits 1 on any
# failure. CASE is the absolute physical path, so flakectl's "at FILE:LINE:COL" must use the
# path as given (after making it absolute), not a path relative to the working directory.
set -uo pipefail
# shellcheck source=nixlib.sh
. "$(dirname "$0")/nixlib.sh"

FLAKECTL=${FLAKECTL:-$LANG_DIR/../../build/flakectl}
CASE_TIMEOUT=${CASE_TIMEOUT:-60}
if [ ! -x "$FLAKECTL" ]; then
    echo "FLAKECTL=$FLAKECTL is not an executable" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
FLAKECTL=$(cd -P "$(dirname "$FLAKECTL")" && pwd -P)/$(basename "$FLAKECTL")

cases=()
if [ $# -gt 0 ]; then
    for c in "$@"; do cases+=("$(cd -P "$(dirname "$c")" && pwd -P)/$(basename "$c")"); done
else
    mapfile -t cases < <(list_cases)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
known=0
# Cases flakectl is known to get wrong (tests/lang/known-failures.txt, one case path per line
# relative to tests/lang, with the reason in a comment). They are reported as KNOWN, never as
# passed; a listed case that passes fails the run until it is taken off the list.
known_list=$(grep -v '^\s*#' "${LANG_KNOWN_FAILURES:-$LANG_DIR/known-failures.txt}" 2>/dev/null | sed 's/\s*#.*//' | grep -v '^\s*$' || true)
is_known() { printf '%s\n' "$known_list" | grep -qxF -- "${case#"$LANG_DIR"/}"; }

fail() {
    if is_known; then
        echo "KNOWN ${case#"$LANG_DIR"/}: $1"
        known=$((known + 1))
        return
    fi
    echo "FAIL ${case#"$LANG_DIR"/}: $1"
    failed=$((failed + 1))
}

pass() {
    if is_known; then
        echo "FAIL ${case#"$LANG_DIR"/}: passes now; take it off tests/lang/known-failures.txt"
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + 1))
}

show_stderr() {
    head -n 8 "$scratch/err" | sed 's/^/    stderr| /'
}

for case in "${cases[@]}"; do
    kind=$(basename "$(dirname "$case")")
    base=${case%.nix}
    case $kind in
        eval | errors) args=(eval --strict --file "$case") ;;
        json) args=(eval --strict --json --file "$case") ;;
        lazy) args=(eval --file "$case") ;;
        *) fail "unknown case directory"; continue ;;
    esac
    rm -rf "$scratch/cwd"
    mkdir "$scratch/cwd"
    rc=0
    (cd "$scratch/cwd" && timeout "$CASE_TIMEOUT" "$FLAKECTL" "${args[@]}" \
        >"$scratch/out" 2>"$scratch/err" </dev/null) || rc=$?

    if [ "$kind" != errors ]; then
        if [ ! -f "$base.exp" ]; then
            fail "no $kind/$(basename "$base").exp (run generate.sh)"
            continue
        fi
        if [ "$rc" -ne 0 ]; then
            if [ "$rc" -eq 124 ]; then
                fail "timed out after ${CASE_TIMEOUT}s"
            else
                fail "exit status $rc, expected 0"
            fi
            show_stderr
            continue
        fi
        if ! cmp -s "$base.exp" "$scratch/out"; then
            fail "stdout differs from .exp (--- expected, +++ flakectl):"
            diff -u --label expected --label flakectl "$base.exp" "$scratch/out" | head -n 20 |
                sed 's/^/    /'
            continue
        fi
        pass
        continue
    fi

    # An error case.
    loc=$(loc_of "$case")
    msg=$(cat "$base.msg" 2>/dev/null)
    if [ -z "$loc" ] || [ -z "$msg" ]; then
        fail "missing .loc or .msg"
        continue
    fi
    why=()
    [ "$rc" -eq 1 ] || why+=("exit status $rc, expected 1")
    [ -s "$scratch/out" ] && why+=("stdout is not empty: $(head -c 200 "$scratch/out")")
    head -n1 "$scratch/err" | grep -q '^error: ' || why+=("stderr's first line does not start with 'error: '")
    grep -qF -- "$msg" "$scratch/err" || why+=("stderr does not contain '$msg'")
    at=$(expected_at "$case")
    at_re=$(printf '%s' "$at" | sed 's/[][\.*^$+?(){}|]/\\&/g')
    grep -qE -- "$at_re([^0-9]|\$)" "$scratch/err" ||
        why+=("stderr does not contain the location ${at#"$LANG_DIR"/}")
    if [ ${#why[@]} -gt 0 ]; then
        joined=$(printf '%s; ' "${why[@]}")
        fail "${joined%; }"
        show_stderr
        continue
    fi
    pass
done

[ "$known" -eq 0 ] || echo "$known known failures (tests/lang/known-failures.txt), not counted as passed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
