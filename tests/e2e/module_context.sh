#!/usr/bin/env bash
# module_context.sh - a host build takes its references from the strings' contexts, as Nix
# does, not from store paths found in the text. One file of derivations and texts is built as
# a host by flakectl and instantiated by nix-instantiate 2.8, and the two agree:
#   with-ctx     mentions dep with its context       -> dep is an input (both)
#   without-ctx  the same text, context discarded    -> no input, no reference (a text scan
#                (builtins.unsafeDiscardStringContext)  found one)
#   hidden-ctx   depends on dep without mentioning it -> dep is an input (a scan missed it)
#   file-with / file-without: builtins.toFile of a text naming a source with and without its
#                context -> the same store paths as Nix's under the same store directory, the
#                reference only in the first.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
have_nix || { echo "skip: nix-bin (nix-instantiate 2.8, the oracle) is not installed"; exit 77; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" --flake "$work/flake" "$@"; }
# nix's side: its own store under $work/nix (logical directory $work/nixstore), for .drv files
nix_side() {
    export NIX_STORE_DIR="$work/nixstore" NIX_STATE_DIR="$work/nix/var" NIX_LOG_DIR="$work/nix/log" \
        NIX_REMOTE="local?root=$work/nix"
}

mkdir -p flake/src
echo data > flake/src/f
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts = {
  n1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./n1.nix ]; };
}; }; }
EOF
cat > flake/ctx.nix <<'EOF'
let
  sys = "x86_64-linux";
  dep = derivation { name = "dep"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo dep > $out" ]; };
  src = "${./src}";
in {
  inherit dep;
  with-ctx = derivation { name = "with-ctx"; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo ${dep} > $out" ]; };
  without-ctx = derivation { name = "without-ctx"; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo ${builtins.unsafeDiscardStringContext "${dep}"} > $out" ]; };
  hidden-ctx = derivation { name = "hidden-ctx"; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo hidden${builtins.substring 0 0 "${dep}"} > $out" ]; };
  file-with = builtins.toFile "file-with" "uses ${src}\n";
  file-without = builtins.toFile "file-without" "uses ${builtins.unsafeDiscardStringContext src}\n";
}
EOF
cat > flake/n1.nix <<'EOF'
{ ... }: { environment.etc = builtins.mapAttrs (n: v: { source = v; }) (import ./ctx.nix); }
EOF

top=$(fl build --no-link --host n1) || fail "flakectl build failed"
path_of() { readlink -f "$top/etc/$1"; }
# fl_refs PATH: the references flakectl registered; fl_inputs PATH: its derivation's inputs
fl_refs() {
  fl store path-info --json "$1" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)[0]["references"]))'
}
fl_inputs() {
  local drv
  drv=$(fl store path-info --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["deriver"])')
  sed -n 's/^input [0-9]*://p' "$drv"
}
# nix_inputs NAME: the inputs (derivations and sources) of nix's .drv for NAME
nix_inputs() {
  (nix_side
   nixo nix-instantiate --add-root "$work/roots/$1" flake/ctx.nix -A "$1" > /dev/null
   nixo nix-store -q --references "$(readlink "$work/roots/$1")")
}
dep=$(path_of dep)
[ -n "$dep" ] && [ -e "$dep" ] || fail "dep was not built"

# with-ctx: both see dep as an input; flakectl's output refers to it
expect_contains "nix: with-ctx's inputs" "-dep.drv" "$(nix_inputs with-ctx)"
expect_contains "flakectl: with-ctx's inputs" "$dep" "$(fl_inputs "$(path_of with-ctx)")"
expect_contains "flakectl: with-ctx's references" "$dep" "$(fl_refs "$(path_of with-ctx)")"
echo "ok: a string with context makes an input and a reference"

# without-ctx: the output names dep's path, yet neither side depends on dep
w=$(path_of without-ctx)
expect_contains "without-ctx's output mentions dep's path" "$dep" "$(cat "$w")"
expect_not_contains "nix: without-ctx's inputs" "-dep.drv" "$(nix_inputs without-ctx)"
expect_not_contains "flakectl: without-ctx's inputs" "$dep" "$(fl_inputs "$w")"
expect_not_contains "flakectl: without-ctx's references" "$dep" "$(fl_refs "$w")"
echo "ok: a store path whose context was discarded is no reference"

# hidden-ctx: dep is an input though the text never names it
expect_contains "nix: hidden-ctx's inputs" "-dep.drv" "$(nix_inputs hidden-ctx)"
expect_contains "flakectl: hidden-ctx's inputs" "$dep" "$(fl_inputs "$(path_of hidden-ctx)")"
echo "ok: context without the path in the text still makes an input"

# toFile: Nix computes the same paths under the same store directory (read-only mode)
nixpaths=$(NIX_STORE_DIR="$state/store" nixo nix-instantiate --eval --strict --readonly-mode \
    -E '(import ./flake/ctx.nix) // { dep = null; with-ctx = null; without-ctx = null; hidden-ctx = null; }')
expect_contains "file-with: the path nix computes" "\"$(path_of file-with)\"" "$nixpaths"
expect_contains "file-without: the path nix computes" "\"$(path_of file-without)\"" "$nixpaths"
src=$(fl_refs "$(path_of file-with)")
expect_contains "file-with refers to the source" "-src" "$src"
expect_eq "file-without has no references" "" "$(fl_refs "$(path_of file-without)")"
expect_contains "file-without's text still names the source" "$src" "$(cat "$(path_of file-without)")"
echo "ok: toFile's references are its text's context (paths equal to nix's)"
