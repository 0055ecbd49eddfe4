#!/usr/bin/env bash
# store dump is byte-identical to `nix-store --dump`, our NAR hashes equal `nix-hash`, and
# `store add` lands where Nix would put the same source (with our store dir).
set -euo pipefail
source "$(dirname "$0")/lib/nix.bash"
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

t="$work/tree"
mkdir -p "$t/a/b/c" "$t/empty-dir" "$t/a/empty"
echo hello > "$t/a/b/c/deep.txt"
printf '#!/bin/sh\necho run\n' > "$t/a/run.sh"
chmod 755 "$t/a/run.sh"
: > "$t/empty-file"
ln -s a/b/c/deep.txt "$t/link"
ln -s ../nowhere/at/all "$t/a/dangling"
ln -s /etc/passwd "$t/absolute"
long=$(printf 'n%.0s' $(seq 1 220))
echo long > "$t/$long"
printf 'x' > "$t/Z-upper-sorts-before-lower"
printf 'no newline' > "$t/a/b/noeol"
head -c $((50 * 1024 * 1024)) /dev/urandom > "$t/big.bin"

check_tree() { # PATH: dump equal, hashes equal
    local p=$1
    fl store dump "$p" > "$work/ours.nar"
    nixo nix-store --dump "$p" > "$work/nix.nar"
    cmp "$work/ours.nar" "$work/nix.nar" || fail "store dump of $p differs from nix-store --dump"
    [ "$(fl store hash "$p")" = "$(nixo nix-hash --type sha256 "$p")" ] || fail "store hash of $p"
    [ "$(fl store hash --base32 "$p")" = "$(nixo nix-hash --type sha256 --base32 "$p")" ] ||
        fail "store hash --base32 of $p"
}

check_tree "$t"
check_tree "$t/a/run.sh"
check_tree "$t/empty-file"
check_tree "$t/empty-dir"
check_tree "$t/link"
check_tree "$t/a/dangling"
check_tree "$t/big.bin"
echo "ok: dumps are byte-identical, hashes equal nix-hash"

# store add: path and recorded NAR hash agree with Nix's tools.
out=$(fl store add "$t")
[ -d "$out" ] || fail "store add printed '$out', not a directory"
want_b32=$(nixo nix-hash --type sha256 --base32 "$t")
want_hex=$(nixo nix-hash --type sha256 "$t")
got=$(fl store path-info --json "$out" | sed -n 's/.*"narHash": "\([^"]*\)".*/\1/p')
[ "$got" = "sha256:$want_b32" ] || fail "narHash $got, nix-hash says sha256:$want_b32"
[ "$(nixo nix-hash --type sha256 "$out")" = "$want_hex" ] || fail "the store copy hashes differently"
expected=$(NIX_STORE_DIR="$state/store" nixo nix-store --print-fixed-path --recursive sha256 "$want_b32" tree)
[ "$out" = "$expected" ] || fail "store path $out, Nix computes $expected"
fl store dump "$out" | cmp - <(nixo nix-store --dump "$t") || fail "the store copy dumps differently"
echo "ok: store add path and hash equal Nix's ($out)"

# The copy is normalized.
[ "$(stat -c %Y "$out/a/run.sh")" = 1 ] || fail "mtime not 1"
[ "$(stat -c %a "$out/a/run.sh")" = 555 ] || fail "executable not 0555"
[ "$(stat -c %a "$out/empty-file")" = 444 ] || fail "file not 0444"
[ "$(stat -c %a "$out/a")" = 555 ] || fail "directory not 0555"
[ "$(readlink "$out/a/dangling")" = ../nowhere/at/all ] || fail "symlink target changed"

# Adding again is a no-op giving the same path; a single file works too.
before=$(stat -c %y "$state/store")
[ "$(fl store add "$t")" = "$out" ] || fail "second add gave another path"
[ "$(stat -c %y "$state/store")" = "$before" ] || fail "re-adding wrote into the store"
f=$(fl store add "$t/a/b/c/deep.txt")
[ "$f" = "$(NIX_STORE_DIR="$state/store" nixo nix-store --print-fixed-path --recursive sha256 \
    "$(nixo nix-hash --type sha256 --base32 "$t/a/b/c/deep.txt")" deep.txt)" ] || fail "file path"
qrc=0
fl store query-valid "$out" "$f" "$state/store/00000000000000000000000000000000-nope" > "$work/valid" || qrc=$?
[ "$(wc -l < "$work/valid")" = 2 ] || fail "query-valid: $(cat "$work/valid")"
[ "$qrc" = 1 ] || fail "query-valid with an invalid path exited $qrc, not 1"
fl store query-valid "$out" "$f" > /dev/null || fail "query-valid of valid paths failed"
echo "ok: re-add, single files, query-valid"

# Bad input: clear errors, nothing added.
before=$(ls -A "$state/store" | wc -l)
if fl store add --contained "$t" 2> "$work/err"; then fail "--contained accepted /etc/passwd link"; fi
grep -q "points outside the source" "$work/err" || fail "no clear error: $(cat "$work/err")"
if fl store add --name 'bad name' "$t/empty-file" 2> "$work/err"; then fail "bad name accepted"; fi
grep -q "invalid store path name" "$work/err" || fail "no clear error: $(cat "$work/err")"
if fl store add "$work/does-not-exist" 2> "$work/err"; then fail "missing source accepted"; fi
grep -q "does-not-exist" "$work/err" || fail "error does not name the path"
if fl store add "$work" 2> "$work/err"; then fail "added a directory holding the store"; fi
grep -q "contains the store" "$work/err" || fail "no clear error: $(cat "$work/err")"
: > "$work/a-file"
if "$FLAKECTL" --state-dir "$work/a-file/state" store add "$t/empty-file" 2> "$work/err"; then
    fail "a state dir under a file was accepted"
fi
grep -q "while opening the store" "$work/err" && grep -q "hint: pass --state-dir" "$work/err" ||
    fail "no clear error: $(cat "$work/err")"
mkfifo "$work/fifo"
if fl store add "$work/fifo" 2> "$work/err"; then fail "fifo accepted"; fi
grep -q "special file" "$work/err" || fail "no clear error: $(cat "$work/err")"
[ "$(ls -A "$state/store" | wc -l)" = "$before" ] || fail "a failed add left something behind"
fl store verify --check-contents > /dev/null || fail "store does not verify"
echo "ok: bad input refused, nothing left behind"
