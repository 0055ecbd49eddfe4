#!/usr/bin/env bash
# host_eval_errors.sh - what a host's evaluation says when the store refuses something, and
# that `flakectl option` builds nothing:
# - a derivation the store refuses (a name with a space, an `out` attribute) is an
#   evaluation error, exit 1 (docs/exit-codes.md), located at the user's file:line:col (its
#   name), not at flakectl's derivation wrapper; a bad `store add --name` is exit 2;
# - a pkgs.fetchurl whose download fails is located at the user's `url = ...`;
# - `flakectl option NAME` evaluates in plan mode, as dry-activate: a derivation in the
#   value is shown with its path, its builder never runs.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
state="$work/state"
mkdir flake
cat > flake/flake.nix <<'NIX'
{ outputs = { self, ... }: { hosts = {
  spaced = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./spaced.nix ]; };
  dotted = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./dotted.nix ]; };
  fetch = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./fetch.nix ]; };
  counted = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./counted.nix ]; };
}; }; }
NIX
cat > flake/spaced.nix <<'NIX'
{ ... }: {
  environment.etc."x".source = derivation {
    name = "x y"; builder = "/bin/sh"; system = "x86_64-linux"; };
}
NIX
cat > flake/dotted.nix <<'NIX'
{ ... }: {
  environment.etc."x".source = derivation {
    name = "x"; builder = "/bin/sh"; system = "x86_64-linux"; out = "y"; };
}
NIX
cat > flake/fetch.nix <<NIX
{ pkgs, ... }: {
  environment.etc."x".source = pkgs.fetchurl {
    url = "file://$work/missing/tool";
    sha256 = "0000000000000000000000000000000000000000000000000000"; };
}
NIX
cat > flake/counted.nix <<NIX
{ ... }: {
  environment.etc."built".source = derivation {
    name = "counted"; builder = "/bin/sh"; system = "x86_64-linux";
    args = [ "-c" "echo ran >> $work/runs; echo built > \\\$out" ]; };
}
NIX
fl() { run_fl --state-dir "$state" --flake "$work/flake" "$@"; }

fl build --host spaced --no-link
expect_eq "invalid derivation name: exit" 1 "$rc"
expect_contains "invalid derivation name: message" "invalid store path name 'x y'" "$err"
expect_contains "invalid derivation name: at the user's name attribute" "at $work/flake/spaced.nix:3:5" "$err"
expect_not_contains "invalid derivation name: not the wrapper" "«flakectl derivation»" "$err"
fl build --host dotted --no-link
expect_eq "a derivation setting out: exit" 1 "$rc"
expect_contains "a derivation setting out: message" "'out' is set by the store" "$err"
expect_contains "a derivation setting out: located" "at $work/flake/dotted.nix:3:5" "$err"
printf x > file
run_fl --state-dir "$state" store add --name 'a b' file
expect_eq "store add --name with a space: a usage error" 2 "$rc"
expect_contains "store add --name: message" "invalid store path name 'a b'" "$err"
echo "ok: an invalid store path name in an evaluation is exit 1 at the user's file; on the command line exit 2"

fl build --host fetch --no-link
expect_eq "failed download: exit" 1 "$rc"
expect_contains "failed download: message" "cannot download file://$work/missing/tool" "$err"
expect_contains "failed download: at the user's url" "at $work/flake/fetch.nix:3:5" "$err"
expect_contains "failed download: the source line" 'url = "file://' "$err"
expect_not_contains "failed download: not the wrapper" "«flakectl derivation»" "$err"
echo "ok: a failed pkgs.fetchurl download points at the user's url"

fl option --host counted environment.etc.built.source
expect_eq "option exit ($err)" 0 "$rc"
expect_contains "option shows the derivation's path" "-counted\"" "$out"
[ ! -e runs ] || fail "flakectl option ran a builder"
fl build --host counted --no-link
expect_eq "build exit ($err)" 0 "$rc"
[ "$(cat runs)" = ran ] || fail "the builder did not run on build (the check above would be void)"
echo "ok: flakectl option builds nothing"
