#!/usr/bin/env bash
# oracle.sh write|check [CASE...] - the one place that turns nix-instantiate's behaviour into
# expectations. "write" (generate.sh) rewrites .exp/.loc/.nixerr; "check" (recheck.sh)
# compares the committed files with what nix-instantiate says now and changes nothing.
# .msg files and hand-decided .loc files (errors Nix 2.8 does not locate) are authored, never
# generated; both modes verify that nix's message contains the .msg text.
set -uo pipefail
# shellcheck source=nixlib.sh
. "$(dirname "$0")/nixlib.sh"

mode=${1:?usage: oracle.sh write|check [CASE...]}
shift
if ! command -v nix-instantiate >/dev/null 2>&1; then
    echo "nix-instantiate is not installed: cannot $mode the expectations" >&2
    exit 77
fi

cases=()
if [ $# -gt 0 ]; then
    for c in "$@"; do cases+=("$(cd -P "$(dirname "$c")" && pwd -P)/$(basename "$c")"); done
else
    mapfile -t cases < <(list_cases)
fi

bad=0
good=0
problem() {
    echo "FAIL ${case#"$LANG_DIR"/}: $*"
    bad=$((bad + 1))
}

# put FILE CONTENT: writes (write mode) or compares (check mode).
put() {
    local file=$1 content=$2
    if [ "$mode" = write ]; then
        printf '%s' "$content" >"$file"
        return 0
    fi
    if [ ! -f "$file" ]; then
        problem "${file##*/} is missing"
        return 1
    fi
    if [ "$(cat "$file"; echo x)" != "${content}x" ]; then
        problem "${file##*/} differs from nix-instantiate:"
        diff -u "$file" <(printf '%s' "$content") | head -n 20 | sed 's/^/    /'
        return 1
    fi
}

for case in "${cases[@]}"; do
    run_nix "$case" || { problem "cannot run"; continue; }
    if [ "$NIX_RC" -eq 99 ]; then
        problem "the oracle misbehaved (not flakectl):"
        printf '%s\n' "$NIX_ERR" | sed 's/^/    /'
        continue
    fi
    kind=$(basename "$(dirname "$case")")
    base=${case%.nix}
    if [ "$kind" != errors ]; then
        if [ "$NIX_RC" -ne 0 ]; then
            problem "nix-instantiate failed (exit $NIX_RC): $(printf '%s' "$NIX_ERR" | head -n1)"
            continue
        fi
        case $NIX_OUT in
            *"$LANG_DIR"*) problem "the output contains the checkout path; it would differ in CI"
                continue ;;
        esac
        put "$base.exp" "$NIX_OUT" && good=$((good + 1))
        continue
    fi
    # An error case.
    if [ "$NIX_RC" -ne 1 ] || [ -n "$NIX_OUT" ]; then
        problem "nix-instantiate did not fail as expected (exit $NIX_RC, stdout '$NIX_OUT')"
        continue
    fi
    if [ ! -s "$base.msg" ]; then
        problem "no .msg file (write the substring the message must contain)"
        continue
    fi
    msg=$(cat "$base.msg")
    case $NIX_ERR in
        *"$msg"*) ;;
        *) problem "nix's message does not contain '$msg': $(printf '%s' "$NIX_ERR" | head -n1)"
            continue ;;
    esac
    loc=$(nix_loc "$case")
    if [[ $loc == outside-the-suite:* ]]; then
        problem "nix locates the error outside the suite (${loc#*:}); cases must not depend on it"
        continue
    elif [ -n "$loc" ]; then
        put "$base.loc" "$loc
# located by nix-instantiate 2.8 (the 'at FILE:LINE:COL' of its message)
" || continue
    elif ! loc_is_manual "$case" || [ -z "$(loc_of "$case")" ]; then
        problem "nix-instantiate gives no location; write $base.loc by hand: LINE:COL, then" \
            "a line '# not located by nix-instantiate 2.8: <why this position>'"
        continue
    fi
    put "$base.nixerr" "$(normalized_err)" && good=$((good + 1))
done

echo "$good ok, $bad failed ($mode)"
[ "$bad" -eq 0 ]
