#!/usr/bin/env bash
# A cache that cannot be read is given up after its first failure: `store realise` of three
# paths with a refused port first and a good file:// cache second substitutes all three from
# the second, warns once about the first, and a deployer-side build with only a refused cache
# builds with one warning, however many derivations it asks about.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

paths=()
for i in 1 2 3; do
    mkdir "src$i" && echo "file $i" > "src$i/f"
    paths+=("$(fl --quiet store add "src$i")")
done
pub=$(fl --quiet cache keygen good-1 -o good.sec)
fl --quiet cache push --to "file://$work/cache" --key good.sec "${paths[@]}"
rm -rf "$state"

out=$(fl store realise --substituters "http://127.0.0.1:$dead/c file://$work/cache" \
    --trusted-public-key "$pub" "${paths[@]}" 2>err) || fail "realise failed: $(cat err)"
[ "$(echo "$out" | wc -l)" = 3 ] || fail "realised: $out"
n=$(grep -c "not using the cache http://127.0.0.1:$dead/c" err || true)
[ "$n" = 1 ] || fail "warned $n times about the dead cache: $(cat err)"
[ "$(grep -c "copying path .* from 'file://$work/cache'" err)" = 3 ] || fail "not all from the good cache: $(cat err)"
"$FLAKECTL" --state-dir "$state" store verify --check-contents >/dev/null || fail "the store does not verify"
echo "ok: a refused cache is asked once, the next cache serves every path"

mkdir flake
cat > flake/flake.nix <<'EOF2'
{ outputs = { self, ... }: { hosts = {
  h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h.nix ]; };
}; }; }
EOF2
cat > flake/h.nix <<'EOF2'
{ ... }: let
  d = n: derivation { name = "d${toString n}"; system = "x86_64-linux"; builder = "/bin/sh";
                      args = [ "-c" "echo ${toString n} > $out" ]; };
in {
  environment.etc."a".source = d 1;
  environment.etc."b".source = d 2;
  environment.etc."c".source = d 3;
}
EOF2
fl --flake flake build --no-link --host h --substituters "http://127.0.0.1:$dead/c" \
    --trusted-public-key "$pub" >/dev/null 2>err || fail "build with a refused cache failed: $(cat err)"
n=$(grep -c "not using the cache http://127.0.0.1:$dead/c" err || true)
[ "$n" = 1 ] || fail "the build warned $n times about the refused cache: $(cat err)"
echo "ok: a build asks a refused cache once and builds"
