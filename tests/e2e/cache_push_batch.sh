#!/usr/bin/env bash
# `cache push --to file://` stages every NAR and .narinfo of the closure at once and puts
# them after one sync (docs/cache.md, "Push"): a path that cannot be pushed (its contents no
# longer match its registered hash) fails the command and takes its referrers along, while
# every other path of the same push is in the cache, each with its complete NAR; no staged
# file is left, no .narinfo names a missing NAR, and `cache verify` passes. After the repair
# the same push completes the cache, and a store substitutes from it.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }
hp() { basename "$1" | cut -c1-32; }

# two independent closures: bad <- top, and 40 small paths <- many
mkdir bad && echo original > bad/f
bad=$(fl store add bad)
top=$(fl store build --name top --builder /bin/sh --arg -c --arg "echo $bad > \$out" --input "$bad")
ins=() refs=""
for i in $(seq 1 40); do
    mkdir -p "small/p$i" && echo "path $i" > "small/p$i/f"
    p=$(fl store add --name "small-$i" "small/p$i")
    ins+=(--input "$p")
    refs="$refs $p"
done
echo "$refs" > refs
many=$(fl store build --name many --builder /bin/sh --arg -c --arg "/bin/cat $work/refs > \$out" "${ins[@]}")
pub=$(fl cache keygen batch-1 -o key.sec)

# the store path is changed behind the store's back
chmod u+w "$bad" "$bad/f"
echo tampered > "$bad/f"
if fl cache push --to "file://$work/c" --key key.sec "$top" "$many" 2>err; then
    fail "pushed a path whose contents do not match its registered hash"
fi
grep -q "$bad was modified in the store" err || fail "the error does not say which path: $(cat err)"
[ ! -e "c/$(hp "$bad").narinfo" ] || fail "the modified path has a .narinfo"
[ ! -e "c/$(hp "$top").narinfo" ] || fail "a referrer of the modified path has a .narinfo"
for p in $refs "$many"; do
    [ -f "c/$(hp "$p").narinfo" ] || fail "$p (not depending on the modified path) was not pushed"
done
[ -z "$(find c -name '.tmp-*')" ] || fail "staged files left: $(find c -name '.tmp-*')"
# every .narinfo names a NAR that is there, with its FileSize
for ni in c/*.narinfo; do
    url=$(sed -n 's/^URL: //p' "$ni")
    size=$(sed -n 's/^FileSize: //p' "$ni")
    [ -f "c/$url" ] || fail "$ni names the missing $url"
    [ "$(stat -c %s "c/$url")" = "$size" ] || fail "$ni: $url is not complete"
done
fl cache verify "file://$work/c" --trusted-public-key "$pub" > verify.out ||
    fail "cache verify after the failed push: $(cat verify.out)"
grep -q "^41 paths checked, 0 problems" verify.out || fail "cache verify: $(cat verify.out)"
echo "ok: a path that cannot be pushed takes only its referrers along"

# repaired, the same push completes the cache
echo original > "$bad/f"
chmod a-w "$bad/f" "$bad"
fl cache push --to "file://$work/c" --key key.sec "$top" "$many"
fl cache verify "file://$work/c" --trusted-public-key "$pub" > verify.out
grep -q "^43 paths checked, 0 problems" verify.out || fail "cache verify: $(cat verify.out)"
mv "$state" state.orig
fl store realise --substituters "file://$work/c" --trusted-public-key "$pub" "$top" "$many" > /dev/null
[ "$(cat "$bad/f")" = original ] || fail "substituted the wrong contents"
"$FLAKECTL" --state-dir "$state" store verify --check-contents > /dev/null || fail "store verify after substitution"
echo "ok: the next push completes the cache, and it substitutes"
