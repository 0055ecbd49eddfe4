#!/usr/bin/env bash
# Binary caches against real Nix 2.8, both directions, the same store directory on both
# sides (nix's store lives under local?root=..., its logical directory is flakectl's):
#   flakectl cache push (xz and zstd) -> nix copy --from, signature checked by nix;
#   nix copy --to (signed with a key flakectl made) -> flakectl store realise;
#   an unsigned nix-written cache, and one signed by a key not trusted, are refused.
set -euo pipefail
source "$(dirname "$0")/lib/nix.bash"
: "${FLAKECTL:?}"
have_nix || { echo "skip: nix-bin is not installed"; exit 77; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }
# nixs SIDE CMD...: CMD (an oracle call) against nix's store SIDE, with its own database and
# files, under the logical store directory $state/store
nixs() {
    local side=$1
    shift
    (export NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$work/nix-$side/var" \
        NIX_LOG_DIR="$work/nix-$side/log" NIX_REMOTE="local?root=$work/nix-$side"; "$@")
}
nixcmd() { local side=$1; shift; nixs "$side" nixo nix --quiet --extra-experimental-features nix-command "$@"; }

# A closure of three paths: a source, a built output referring to it, one referring to both.
mkdir src && echo "payload-$$" > src/file && head -c 300000 /dev/urandom > src/blob
ln -s file src/link
dep=$(fl store add src)
mid=$(fl store build --name mid --builder /bin/sh --arg -c \
    --arg "/bin/mkdir \$out; echo $dep > \$out/ref; /bin/ln -s $dep \$out/dep" --input "$dep")
top=$(fl store build --name top --builder /bin/sh --arg -c \
    --arg "echo $mid $dep > \$out" --input "$mid" --input "$dep")

pub=$(fl cache keygen test-cache-1 -o key.sec)
[ "$(stat -c %a key.sec)" = 600 ] || fail "the secret key file is not 0600"
[[ "$pub" == test-cache-1:* ]] || fail "public key: $pub"
# nix derives the same public key from flakectl's secret key
[ "$(nixcmd a key convert-secret-to-public < key.sec)" = "$pub" ] || fail "nix disagrees on the public key"
if fl cache keygen other -o key.sec 2>err; then fail "keygen overwrote a key"; fi
nixcmd a key generate-secret --key-name nix-made-1 > nix.sec
nixpub=$(nixcmd a key convert-secret-to-public < nix.sec)
echo "ok: keygen (nix reads the key)"

for comp in zstd xz; do
    cache="$work/cache-$comp"
    fl cache push --to "file://$cache" --key key.sec --compression "$comp" "$top"
    [ "$(ls "$cache"/*.narinfo | wc -l)" = 3 ] || fail "$comp: not 3 narinfos"
    grep -qx "StoreDir: $state/store" "$cache/nix-cache-info" || fail "nix-cache-info"
    grep -q "^Compression: $comp$" "$cache"/*.narinfo || fail "compression field"
    fl cache verify "file://$cache" --trusted-public-key "$pub" > verify.out ||
        fail "$comp: verify: $(cat verify.out)"
    # nix refuses it without trusting our key ...
    if nixcmd "untrusting-$comp" copy --from "file://$cache" --option trusted-public-keys "$nixpub" \
        "$top" 2>err; then
        fail "$comp: nix accepted a path signed by a key it does not trust"
    fi
    grep -q "lacks a valid signature" err || fail "$comp: nix's refusal: $(cat err)"
    # ... and accepts it trusting our key: the signature checks out in Nix's own code
    nixcmd "$comp" copy --from "file://$cache" --option trusted-public-keys "$pub" "$top" ||
        fail "$comp: nix copy --from refused flakectl's cache"
    for p in "$dep" "$mid" "$top"; do
        cmp <(fl store dump "$p") <(nixs "$comp" nixo nix-store --dump "$p") || fail "$comp: $p differs"
        [ "$(nixs "$comp" nixo nix-store -q --hash "$p")" = "$(fl store path-info --json "$p" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["narHash"])')" ] ||
            fail "$comp: nar hash of $p"
    done
    [ "$(nixs "$comp" nixo nix-store -q --references "$top" | sort)" = "$(printf '%s\n' "$dep" "$mid" | sort)" ] ||
        fail "$comp: references of $top in nix"
    echo "ok: nix copy --from accepts flakectl's $comp cache (signature checked)"
done
# Pushing again writes nothing new.
before=$(ls -l --time-style=+%s.%N "$work/cache-zstd")
fl cache push --to "file://$work/cache-zstd" --key key.sec "$top"
[ "$before" = "$(ls -l --time-style=+%s.%N "$work/cache-zstd")" ] || fail "a second push rewrote files"
echo "ok: a second push skips what the cache has"

# The other direction: nix writes the caches, flakectl substitutes from them into an empty
# store with the same directory. A path only nix made (no signature of ours anywhere), in
# caches unsigned and signed by nix's own key; and flakectl's closure, which nix copies with
# the signatures it got and signs again with flakectl's key (xz, nix's default).
mkdir src2 && echo "nix-only-$$" > src2/f
nixonly=$(nixs zstd nixo nix-store --add src2)
nixcmd zstd copy --to "file://$work/nixcache-unsigned" "$nixonly"
nixcmd zstd copy --to "file://$work/nixcache-nixkey?secret-key=$work/nix.sec" "$nixonly"
nixcmd zstd copy --to "file://$work/nixcache?secret-key=$work/key.sec" "$top"
grep -q '^Compression: xz' "$work/nixcache/"*.narinfo || fail "nix did not write xz"
mv "$state" "$work/state.orig"
mkdir -p "$state"
if fl store realise --substituters "file://$work/nixcache-unsigned" \
    --trusted-public-key "$pub" "$nixonly" 2>err; then
    fail "realised from an unsigned cache"
fi
grep -q "not signed" err || fail "unsigned: unclear error: $(cat err)"
grep -q "nixcache-unsigned" err || fail "unsigned: the error does not name the cache: $(cat err)"
grep -q "$nixonly" err || fail "unsigned: the error does not name the path: $(cat err)"
if fl store realise --substituters "file://$work/nixcache-nixkey" \
    --trusted-public-key "$pub" "$nixonly" 2>err; then
    fail "realised a path signed by an untrusted key"
fi
grep -q "not signed by any trusted key" err || fail "untrusted: unclear error: $(cat err)"
[ -z "$(ls -A "$state/store" 2>/dev/null)" ] || fail "something entered the store: $(ls "$state/store")"
echo "ok: unsigned and untrusted nix caches refused, nothing added"

# nix's own signature, checked by flakectl
out=$(fl store realise --substituters "file://$work/nixcache-unsigned file://$work/nixcache-nixkey" \
    --trusted-public-key "$nixpub" "$nixonly")
[ "$out" = "$nixonly" ] || fail "realise printed '$out'"
cmp <(fl store dump "$nixonly") <(nixs zstd nixo nix-store --dump "$nixonly") || fail "$nixonly differs"
echo "ok: flakectl checks a signature nix made"

out=$(fl store realise --substituters "file://$work/nixcache" --trusted-public-key "$nixpub" \
    --trusted-public-key "$pub" "$top")
[ "$out" = "$top" ] || fail "realise printed '$out'"
for p in "$dep" "$mid" "$top"; do
    cmp <(fl store dump "$p") <(fl --state-dir "$work/state.orig" store dump "$p") || fail "$p differs"
done
fl store verify --check-contents > /dev/null || fail "the substituted store does not verify"
[ "$(fl store path-info --json "$top" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)[0]["references"]))')" = \
  "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$dep" "$mid")" ] || fail "references of $top"
echo "ok: flakectl substitutes a closure from nix copy --to (xz, signed)"
