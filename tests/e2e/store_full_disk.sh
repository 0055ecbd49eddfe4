#!/usr/bin/env bash
# A full disk (the state dir on a 4 MiB tmpfs, in a private mount namespace): adds and builds
# fail with a clear error, nothing is registered, and the store still verifies.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/state"
head -c $((6 * 1024 * 1024)) /dev/urandom > "$work/big"
echo small > "$work/small"
if [ "$(id -u)" -eq 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
"${ns[@]}" bash -euo pipefail -c '
    work=$1; F=$2
    mount -t tmpfs -o size=4m tmpfs "$work/state"
    fl() { "$F" --state-dir "$work/state" "$@"; }
    fail() { echo "FAIL: $*" >&2; exit 1; }
    small=$(fl store add "$work/small")
    if fl store add "$work/big" 2> "$work/err"; then fail "a 6 MiB add fit in 4 MiB"; fi
    grep -q "No space left on device" "$work/err" || fail "unclear error: $(cat "$work/err")"
    grep -q "while adding $work/big" "$work/err" || fail "error does not name the source"
    if fl store build --name filler --builder /bin/sh --arg -c \
        --arg "/bin/mkdir \$out; /bin/cat $work/big > \$out/x" 2> "$work/err"; then
        fail "a 6 MiB build fit"
    fi
    grep -q "failed" "$work/err" || fail "unclear build error: $(cat "$work/err")"
    n=$(ls "$work/state/db" | grep -c "\.json$" || true)
    [ "$n" -le 2 ] || fail "registered: $(ls "$work/state/db")"     # small + filler.drv
    ls "$work/state/store" | grep -q -- "-big$" && fail "big left in the store"
    ls "$work/state/store" | grep -v "\.drv$" | grep -q -- "-filler$" && fail "filler left"
    fl store verify --check-contents > "$work/report" || fail "store does not verify: $(cat "$work/report")"
    fl store query-valid "$small" | grep -q . || fail "the earlier path was lost"
    echo "ok: full disk: clear errors, nothing registered, store verifies"
' _ "$work" "$FLAKECTL"
