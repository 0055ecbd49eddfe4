#!/usr/bin/env bash
# What substitution must refuse, and what an interrupted push must never leave behind:
# a narinfo whose signature no longer matches (edited NarHash), a key that is not trusted,
# a tampered or truncated NAR (hash mismatch: nothing registered, nothing left in the store),
# a cache for another store directory, a missing reference; kill -9 in the middle of a push
# leaves no .narinfo without its complete NAR, and the next push completes the cache.
set -euo pipefail
: "${FLAKECTL:?}"
source "$(dirname "$0")/lib/bytes.bash"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }
empty_store() { [ -z "$(ls -A "$state/store" 2>/dev/null)" ] && [ -z "$(ls "$state/db" 2>/dev/null | grep json || true)" ]; }

mkdir src && head -c 600000 /dev/urandom > src/blob && echo small > src/small
dep=$(fl store add src)
top=$(fl store build --name top --builder /bin/sh --arg -c --arg "echo $dep > \$out" --input "$dep")
pub=$(fl cache keygen good-1 -o good.sec)
other=$(fl cache keygen other-1 -o other.sec)
fl cache push --to "file://$work/cache" --key good.sec --compression xz "$top"
mv "$state" "$work/state.orig"
hp() { basename "$1" | cut -c1-32; }
fresh() { rm -rf "$state" "$work/c"; cp -a "$work/cache" "$work/c"; }
realise() { fl store realise --substituters "file://$work/c" --trusted-public-key "$1" "$top"; }

# 1. a signature that no longer matches: the NarHash edited to another path's
fresh
other_hash=$(grep '^NarHash' "$work/c/$(hp "$top").narinfo" | cut -d' ' -f2)
sed -i "s|^NarHash: .*|NarHash: $other_hash|" "$work/c/$(hp "$dep").narinfo"
if realise "$pub" 2>err; then fail "accepted an edited narinfo"; fi
grep -q "not signed by any trusted key" err || fail "edited narinfo: $(cat err)"
grep -q "$dep" err || fail "the error does not name the path: $(cat err)"
empty_store || fail "something was added from an edited narinfo"
echo "ok: a bad signature is refused"

# 2. a key that is not trusted
fresh
if realise "$other" 2>err; then fail "accepted a signature by an untrusted key"; fi
grep -q "not signed by any trusted key" err || fail "untrusted: $(cat err)"
empty_store || fail "something was added under an untrusted key"
echo "ok: an untrusted key is refused"

# 3. a tampered NAR: one byte flipped, the file re-hashed so only the NAR hash can tell
#    (FileHash/FileSize are not signed); decompression works, the NAR hash does not match.
fresh
narinfo="$work/c/$(hp "$dep").narinfo"
url=$(grep '^URL' "$narinfo" | cut -d' ' -f2)
xz -dc "$work/c/$url" > nar
size=$(stat -c %s nar)
flip_byte nar $((size / 2))
xz -c nar > "$work/c/$url"
sed -i "/^FileHash\|^FileSize/d" "$narinfo"
if realise "$pub" 2>err; then fail "accepted a tampered NAR"; fi
grep -q "hash mismatch for $dep" err || fail "tampered: $(cat err)"
grep -q "$work/c" err || fail "tampered: the error does not name the cache: $(cat err)"
empty_store || fail "a tampered NAR left something: $(ls -A "$state/store")"
fl cache verify "file://$work/c" --trusted-public-key "$pub" > verify.out && fail "verify passed a tampered cache"
grep -q "does not match the NarHash" verify.out || fail "verify: $(cat verify.out)"
echo "ok: a tampered NAR is refused, nothing registered or left behind"

# 4. a truncated NAR file
fresh
url=$(grep '^URL' "$work/c/$(hp "$dep").narinfo" | cut -d' ' -f2)
truncate -s 5000 "$work/c/$url"
if realise "$pub" 2>err; then fail "accepted a truncated NAR"; fi
grep -q "ends early\|not valid xz" err || fail "truncated: $(cat err)"
empty_store || fail "a truncated NAR left something"
fl cache verify "file://$work/c" > verify.out && fail "verify passed a truncated NAR"
echo "ok: a truncated NAR is refused"

# 5. a missing reference: the referrer is never added without it
fresh
rm "$work/c/$(hp "$dep").narinfo"
if realise "$pub" 2>err; then fail "realised without the reference"; fi
grep -q "no cache has its reference $dep" err || fail "missing reference: $(cat err)"
empty_store || fail "the referrer was added without its reference"
fl cache verify "file://$work/c" > verify.out && fail "verify passed a cache missing a reference"
grep -q "reference $dep is not in the cache" verify.out || fail "verify: $(cat verify.out)"
echo "ok: a missing reference is refused"

# 6. a cache for another store directory
fresh
sed -i 's|^StoreDir: .*|StoreDir: /nix/store|' "$work/c/nix-cache-info"
if realise "$pub" 2>err; then fail "used a cache of another store directory"; fi
grep -q "is for the store /nix/store" err || fail "store dir: $(cat err)"
echo "ok: a cache for another store directory is refused"

# 7. the good cache works (so the refusals above were about what was changed)
fresh
[ "$(realise "$pub")" = "$top" ] || fail "the unchanged cache did not substitute"
echo "ok: the unchanged cache substitutes"

# 8. kill -9 in the middle of pushes: every .narinfo present names a complete NAR (its
#    FileHash checks out), and a later push completes the cache.
rm -rf "$state"
mv "$work/state.orig" "$state"
big=$(for i in 1 2 3 4; do mkdir -p "big$i"; head -c 1500000 /dev/urandom > "big$i/f"; fl store add "big$i"; done)
all=$(fl store build --name all --builder /bin/sh --arg -c --arg "echo $(echo $big) > \$out" \
    $(for p in $big; do echo --input "$p"; done))
interrupted=0
for delay in 0.05 0.2 0.4; do
    rm -rf "$work/k"
    "$FLAKECTL" --quiet --state-dir "$state" cache push --to "file://$work/k" --key good.sec \
        --compression xz "$all" & pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for ni in "$work/k"/*.narinfo; do
        [ -e "$ni" ] || continue
        url=$(grep '^URL' "$ni" | cut -d' ' -f2)
        [ -f "$work/k/$url" ] || fail "kill at $delay s: $ni names a missing NAR"
        want=$(grep '^FileSize' "$ni" | cut -d' ' -f2)
        [ "$(stat -c %s "$work/k/$url")" = "$want" ] || fail "kill at $delay s: $url is partial"
    done
    [ "$(ls "$work/k"/*.narinfo 2>/dev/null | wc -l)" -lt 5 ] && interrupted=$((interrupted + 1))
    fl cache push --to "file://$work/k" --key good.sec --compression xz "$all"
    fl cache verify "file://$work/k" --trusted-public-key "$pub" > verify.out ||
        fail "after kill at $delay s the completed cache does not verify: $(cat verify.out)"
done
[ "$interrupted" -gt 0 ] || fail "no kill landed before the push ended (the check above was void)"
echo "ok: kill -9 mid-push ($interrupted of 3 interrupted) leaves no narinfo without its complete NAR"
