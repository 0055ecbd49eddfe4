#!/usr/bin/env bash
# example_k3s_pin.sh - the example's pinned k3s release (modules/server/k3s.nix): no test can
# download it (no network here), so what can be checked offline is:
# - its fetchurl is the fixed-output path Nix gives that name and sha256 (flat), found in
#   plan mode (`flakectl option`, which downloads nothing) on the unmodified example;
# - the pin is enforced: a file with other content offered for it (a file:// fetchurl of the
#   same name and sha256, the offline way docs/packages-upstream.md gives) is refused with
#   both hashes named, and nothing becomes valid.
# The pinned value itself was compared with an independent pin of the same release
# (docs/packages-upstream.md says which).
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
have_nix || { echo "skip: nix-bin (nix-store 2.8, the oracle) is not installed"; exit 77; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
state="$work/state"
k3s_nix="$FLAKECTL_SRC/modules/server/k3s.nix"
url=$(sed -n 's/^ *url = "\(https:[^"]*\)";.*/\1/p' "$k3s_nix")
sha=$(sed -n 's/^ *sha256 = "\([0-9a-f]*\)";.*/\1/p' "$k3s_nix")
[ -n "$url" ] && [ "${#sha}" = 64 ] || fail "cannot read the pinned url and sha256 from $k3s_nix"

mkdir example
cp -r "$FLAKECTL_SRC/flake.nix" "$FLAKECTL_SRC/hosts" "$FLAKECTL_SRC/modules" \
    "$FLAKECTL_SRC/home" "$FLAKECTL_SRC/secrets" example/
want=$(NIX_STORE_DIR="$state/store" nixo nix-store --print-fixed-path sha256 "$sha" k3s)
run_fl --state-dir "$state" --flake "$work/example" option --host homelab-node1 environment.systemPackages
expect_eq "option exit ($err)" 0 "$rc"
expect_contains "the pinned download's path is Nix's fixed-output path" "\"$want\"" "$out"
[ ! -e "$want" ] || fail "plan mode downloaded the release"
echo "ok: the example's k3s fetchurl is $want, as Nix computes it"

mkdir flake
printf '#!/bin/sh\necho not k3s\n' > k3s
sri() { python3 -c 'import base64, sys; print("sha256-" + base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$1"; }
got=$(sri "$(sha256sum k3s | cut -d' ' -f1)")
cat > flake/flake.nix <<'NIX'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h.nix ]; }; }; }
NIX
cat > flake/h.nix <<NIX
{ pkgs, ... }: {
  environment.etc."k3s".source = pkgs.fetchurl { url = "file://$work/k3s"; sha256 = "$sha"; };
}
NIX
run_fl --state-dir "$state" --flake "$work/flake" build --host h --no-link
expect_eq "another file for the pin: exit" 1 "$rc"
expect_contains "another file for the pin: says so" "hash mismatch" "$err"
expect_contains "another file for the pin: names the pinned hash" "specified: $(sri "$sha")" "$err"
expect_contains "another file for the pin: names what came" "got:       $got" "$err"
run_fl --state-dir "$state" store query-valid "$want"
expect_eq "nothing became valid" "" "$out"
expect_eq "query-valid says so" 1 "$rc"
echo "ok: the pin is enforced: other content for it is refused"
