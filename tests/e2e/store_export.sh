#!/usr/bin/env bash
# export | import round trip into a fresh store with the same store dir; a tampered or
# truncated stream registers nothing; re-importing skips valid paths.
set -euo pipefail
source "$(dirname "$0")/lib/nix.bash"
source "$(dirname "$0")/lib/bytes.bash"
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

mkdir src && echo "payload-$$" > src/file && head -c 300000 /dev/urandom > src/blob
dep=$(fl store add src)
out=$(fl store build --name app --builder /bin/sh --arg -c \
    --arg "echo $dep > \$out" --input "$dep")
fl store export --closure "$out" > stream
fl store path-info --closure "$out" > info.before

# The importing side: the same state dir path, emptied (store dirs must match).
mv state state.orig
imported=$(fl store import < stream)
[ "$(echo "$imported" | wc -l)" = 2 ] || fail "imported: $imported"
fl store path-info --closure "$out" > info.after
diff <(grep -v registered info.before) <(grep -v registered info.after) || fail "metadata differs"
fl store verify --check-contents > /dev/null || fail "imported store does not verify"
cmp <(fl store dump "$dep") <(nixo nix-store --dump "$work/state.orig/store/${dep##*/}") ||
    fail "imported contents differ"
echo "ok: round trip"

# Paths named referrer first still export references first.
fl store export "$out" "$dep" > stream2
rm -rf state && fl store import < stream2 > /dev/null || fail "referrer-first export"
# Re-importing skips what is valid (and still succeeds).
before=$(stat -c %Y "$state/db/$(basename "$dep" | cut -c1-32).json")
fl store import < stream > /dev/null || fail "re-import failed"
echo "ok: re-import"

# A tampered stream: flip one byte inside the blob's contents.
rm -rf state
size=$(stat -c %s stream)
cp stream tampered
flip_byte tampered $((size / 2))
if fl store import < tampered 2> err; then fail "tampered stream imported"; fi
grep -qi "hash mismatch\|bad archive\|bad import" err || fail "unclear error: $(cat err)"
[ -z "$(ls "$state/db" | grep json || true)" ] || fail "something was registered"
[ -z "$(ls -A "$state/store")" ] || fail "something was left in the store: $(ls -A "$state/store")"
echo "ok: tampered stream refused, nothing registered"

# Truncated at several points, including right after the first complete path.
for cut in 100 $((size / 3)) $((size - 9)) $((size - 1)); do
    rm -rf state
    head -c "$cut" stream > truncated
    if fl store import < truncated 2> err; then fail "truncated stream ($cut) imported"; fi
    grep -q "ends early" err || fail "unclear error: $(cat err)"
    [ -z "$(ls "$state/db" | grep json || true)" ] || fail "registered from a truncated stream"
    [ -z "$(ls -A "$state/store")" ] || fail "left over from a truncated stream"
done
echo "ok: truncated streams register nothing"

# Not a stream at all; a stream from another store dir.
if echo garbage | fl store import 2> err; then fail "garbage imported"; fi
grep -q "ends early\|not a flakectl export" err || fail "unclear: $(cat err)"
if "$FLAKECTL" --state-dir "$work/other" store import < stream 2> err; then
    fail "imported into a store with another dir"
fi
grep -q "same --state-dir" err || fail "unclear: $(cat err)"
echo "ok: bad streams refused"
