#!/usr/bin/env bash
# Substitution during `flakectl build`: a host built and pushed from one store (cache push
# --host) is built in an empty store with the same directory from the cache, with nothing
# rebuilt (no builder runs, no build log); through --substituters/--trusted-public-key and
# through the host's own store.substituters/store.trustedPublicKeys. A cache missing one
# output builds only that one; a cache signed by an untrusted key is a warning naming the
# cache and everything is built, to the same toplevel.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" --flake "$work/flake" "$@"; }

mkdir flake
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts = {
  n1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./n1.nix ]; };
}; }; }
EOF
cat > flake/n1.nix <<EOF
{ pkgs, lib, ... }:
let
  # counts its runs outside the store, so a rebuild shows
  counted = derivation {
    name = "counted"; system = "x86_64-linux"; builder = "/bin/sh";
    args = [ "-c" "echo ran >> $work/runs; echo built > \$out" ];
  };
in {
  environment.etc."greeting".text = "hi\n";
  environment.etc."counted".source = counted;
  environment.etc."motd".source = pkgs.writeText "motd" "hello\n";
  store.substituters = lib.mkIf (builtins.pathExists $work/use-option) [ "file://$work/cache" ];
  store.trustedPublicKeys = lib.mkIf (builtins.pathExists $work/use-option) [ (builtins.readFile $work/pub) ];
}
EOF
pub=$(fl cache keygen build-cache-1 -o key.sec)
printf '%s' "$pub" > pub
top=$(fl --quiet cache push --to "file://$work/cache" --key key.sec --host n1 2>err && fl build --no-link 2>/dev/null --host n1)
[ "$(cat runs)" = ran ] || fail "the first build did not run the builder once"
[ -n "$(ls "$state/log")" ] || fail "the first build left no build logs (the check below would be void)"
fl cache verify "file://$work/cache" --trusted-public-key "$pub" > /dev/null || fail "the pushed cache does not verify"
mv "$state" "$work/state.orig"
echo "ok: cache push --host built and pushed $top"

# 1. flags: everything comes from the cache
out=$(fl build --no-link --host n1 --substituters "file://$work/cache" --trusted-public-key "$pub" 2>err) ||
    fail "build with substituters failed: $(cat err)"
[ "$out" = "$top" ] || fail "substituted build gave $out, not $top"
[ "$(wc -l < runs)" = 1 ] || fail "a builder ran again"
[ -z "$(ls "$state/log" 2>/dev/null)" ] || fail "something was built: $(ls "$state/log")"
grep -q "copying path '$top' from 'file://$work/cache'" err || fail "no progress line: $(cat err)"
"$FLAKECTL" --state-dir "$state" store verify --check-contents > /dev/null || fail "store does not verify"
echo "ok: build substitutes the whole closure, nothing rebuilt"

# 2. the host's own options
rm -rf "$state"
touch use-option
out=$(fl build --no-link --host n1 2>err) || fail "build with store.substituters failed: $(cat err)"
[ "$out" = "$top" ] || fail "option-substituted build gave $out"
[ "$(wc -l < runs)" = 1 ] || fail "a builder ran again (options)"
[ -z "$(ls "$state/log" 2>/dev/null)" ] || fail "something was built (options): $(ls "$state/log")"
rm use-option
echo "ok: store.substituters and store.trustedPublicKeys"

# 3. one output missing from the cache: only it is built
rm -rf "$state"
counted=$(grep -l 'StorePath: .*-counted$' cache/*.narinfo)
mv "$counted" "$work/counted.narinfo"
out=$(fl build --no-link --host n1 --substituters "file://$work/cache" --trusted-public-key "$pub" 2>err) ||
    fail "partial: $(cat err)"
[ "$out" = "$top" ] || fail "partial: $out"
[ "$(wc -l < runs)" = 2 ] || fail "partial: the missing output was not built exactly once"
[ "$(ls "$state/log")" = "$(basename "$(grep '^StorePath' "$work/counted.narinfo" | cut -d' ' -f2)").log" ] ||
    fail "partial: built more than the missing output: $(ls "$state/log")"
mv "$work/counted.narinfo" "$counted"
echo "ok: only what no cache has is built"

# 4. an untrusted key: a warning naming the cache, then everything is built
rm -rf "$state"
other=$(fl cache keygen other-1 -o other.sec)
out=$(fl build --no-link --host n1 --substituters "file://$work/cache" --trusted-public-key "$other" 2>err) ||
    fail "untrusted: $(cat err)"
[ "$out" = "$top" ] || fail "untrusted: $out"
grep -q "warning: not substituting .*not signed by any trusted key" err || fail "untrusted: no warning: $(cat err)"
grep -q "file://$work/cache" err || fail "untrusted: the warning does not name the cache"
[ "$(wc -l < runs)" = 3 ] || fail "untrusted: the builder did not run"
echo "ok: an untrusted cache is refused with a warning and the host is built"
