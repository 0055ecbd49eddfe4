# shellcheck shell=bash
# nixlib.sh - shared by generate.sh and recheck.sh: runs the oracle (Nix 2.8's nix-instantiate)
# on one case and turns its output into the committed expectation files. Sourced, not run.
# It must never write an absolute checkout path into an expectation: the suite is checked out
# elsewhere in CI.

LANG_DIR=$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
NIX_TIMEOUT=${NIX_TIMEOUT:-60}
NIX_ORACLE=$(cd -P "$LANG_DIR/../lib" && pwd -P)/nix-oracle

# The mode of a case follows from its directory.
#   eval/   --eval --strict        lazy/   --eval        json/   --eval --strict --json
#   errors/ --eval --strict (must fail)
case_flags() {
    case "$(basename "$(dirname "$1")")" in
        eval | errors) echo "--strict" ;;
        json) echo "--strict --json" ;;
        lazy) echo "" ;;
        *) echo "unknown case directory for $1" >&2; return 2 ;;
    esac
}

# Every case file of the suite (fixtures live in subdirectories and are not cases).
list_cases() {
    local d
    for d in eval json lazy errors; do
        find "$LANG_DIR/$d" -maxdepth 1 -name '*.nix' | LC_ALL=C sort
    done
}

# Runs nix-instantiate on case $1 from a scratch directory (so that nothing may depend on the
# working directory), through tests/lib/nix-oracle (the one environment every oracle call
# uses). Sets NIX_OUT, NIX_ERR, NIX_RC; NIX_RC 99 means the oracle itself misbehaved.
run_nix() {
    local case=$1 flagwords scratch
    local -a flags
    flagwords=$(case_flags "$case") || return 2
    read -ra flags <<<"$flagwords"
    scratch=$(mktemp -d)
    NIX_RC=0
    (cd "$scratch" && timeout "$NIX_TIMEOUT" "$NIX_ORACLE" nix-instantiate --eval "${flags[@]}" "$case" \
        >"$scratch/.out" 2>"$scratch/.err") || NIX_RC=$?
    NIX_OUT=$(cat "$scratch/.out"; echo x)
    NIX_OUT=${NIX_OUT%x}
    NIX_ERR=$(cat "$scratch/.err"; echo x)
    NIX_ERR=${NIX_ERR%x}
    rm -rf "$scratch"
}

# The stderr of nix with the suite's location replaced by a placeholder.
normalized_err() {
    printf '%s' "$NIX_ERR" | sed "s|$LANG_DIR/|@LANG@/|g"
}

# The location nix reports: LINE:COL when it is in the case file itself, PATH:LINE:COL
# (PATH relative to the case's directory) when it is in another file of the suite (an
# imported fixture), "" when nix reports none.
nix_loc() {
    local case=$1 dir found
    dir=$(dirname "$case")
    found=$(printf '%s' "$NIX_ERR" | grep -m1 -oE "^ +at /[^:]*:[0-9]+:[0-9]+:$" | sed -E 's/^ +at //; s/:$//') || true
    [ -n "$found" ] || return 0
    case $found in
        "$case":*) echo "${found#"$case":}" ;;
        "$dir"/*) echo "${found#"$dir"/}" ;;
        *) echo "outside-the-suite:$found" ;;
    esac
}

# The file and LINE:COL an error must be reported at, as "FILE:LINE:COL", from the .loc.
expected_at() {
    local case=$1 loc
    loc=$(loc_of "$case")
    if [[ $loc =~ ^[0-9]+:[0-9]+$ ]]; then
        echo "$case:$loc"
    else
        echo "$(dirname "$case")/$loc"
    fi
}

# The expected LINE:COL of an error case: the first line of its .loc file.
loc_of() {
    head -n1 "${1%.nix}.loc" 2>/dev/null | tr -d '[:space:]'
}

# Whether the .loc file says the location was decided by hand (Nix 2.8 gives none).
loc_is_manual() {
    grep -q '^# not located by nix-instantiate' "${1%.nix}.loc" 2>/dev/null
}
