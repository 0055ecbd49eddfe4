#!/usr/bin/env bash
# secret encrypt/decrypt -o onto a full disk (a 4 MiB tmpfs in a private mount namespace):
# a write failure reaches the command as a clear error naming the output, both for a file
# far larger than the disk (20 MiB, failing mid-stream) and one a little larger (5 MiB); an
# existing output is left as it was and no temporary is left behind; a small output still
# succeeds there.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"
head -c $((20 * 1024 * 1024)) /dev/urandom > "$work/big"
head -c $((5 * 1024 * 1024)) /dev/urandom > "$work/mid"
echo small > "$work/small"
"$FLAKECTL" secret keygen -o "$work/key.txt" 2>/dev/null
pub=$("$FLAKECTL" secret keygen -y "$work/key.txt")
"$FLAKECTL" secret encrypt -r "$pub" -o "$work/big.age" "$work/big"
"$FLAKECTL" secret encrypt -r "$pub" -o "$work/mid.age" "$work/mid"
if [ "$(id -u)" -eq 0 ]; then ns=(unshare -m); else ns=(unshare -rm); fi
"${ns[@]}" bash -euo pipefail -c '
    work=$1; F=$2; pub=$3
    mount -t tmpfs -o size=4m tmpfs "$work/out"
    fail() { echo "FAIL: $*" >&2; exit 1; }
    echo previous > "$work/out/x"
    for src in big mid; do
        if "$F" secret encrypt -r "$pub" -o "$work/out/x" "$work/$src" 2> "$work/err"; then
            fail "encrypting $src fit in 4 MiB"
        fi
        grep -q "No space left on device" "$work/err" || fail "unclear error: $(cat "$work/err")"
        grep -q "$work/out/x" "$work/err" || fail "error does not name the output"
        if "$F" secret decrypt -i "$work/key.txt" -o "$work/out/x" "$work/$src.age" 2> "$work/err"; then
            fail "decrypting $src fit in 4 MiB"
        fi
        grep -q "No space left on device" "$work/err" || fail "unclear error: $(cat "$work/err")"
        [ "$(cat "$work/out/x")" = previous ] || fail "the existing output was changed"
        [ "$(ls "$work/out")" = x ] || fail "left behind: $(ls "$work/out")"
    done
    "$F" secret encrypt -r "$pub" -o "$work/out/s.age" "$work/small"
    [ "$("$F" secret decrypt -i "$work/key.txt" "$work/out/s.age")" = small ] || fail "small round trip"
' _ "$work" "$FLAKECTL" "$pub"
echo "secret_output_full: ok"
