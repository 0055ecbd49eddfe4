# module_native.sh - the native module engine (src/module/evalmodules.c) against the
# reference engine written in the language (src/module/nix/modules.nix, run by
# nix-instantiate): the same merged values for a synthetic flake and for priorities and
# ordering, the same error messages, and each error located at the user's file:line:col.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
E="$FLAKECTL_SRC/tests/module/errors2"
bundled=$(ls "$FLAKECTL_SRC"/src/module/bundled/*.nix | tr '\n' ' ')
have_nix=0
have_nix && have_nix=1
# nix_eval FLAKE HOST ATTR: the reference engine's result (stdout and stderr in $nout/$nerr)
nix_eval() {
  local expr="let r = import $FLAKECTL_SRC/src/module/nix/host.nix { flakeDir = $1; hostName = \"$2\"; bundledModules = [ $bundled ]; }; in $3"
  nout=$(nixo nix-instantiate --eval --strict --json -E "$expr" 2>"$work/nerr") || true
  nerr=$(cat "$work/nerr")
}

# --- a synthetic flake like tests/bench/modules.sh makes: options, mkIf, mkDefault,
# mkOverride, lists across modules, attrsOf submodule users
flake="$work/synth"
mkdir -p "$flake/m"
n=40
for ((i = 0; i < n; i++)); do
  cat >"$flake/m/$i.nix" <<NIX
{ config, lib, ... }:
let cfg = config.synth.m$i; in
{
  options.synth.m$i = {
    enable = lib.mkOption { type = lib.types.bool; default = $(( i % 3 == 0 )) == 1; };
    port = lib.mkOption { type = lib.types.port; default = $(( 1000 + i )); };
    name = lib.mkOption { type = lib.types.str; default = "m$i"; };
    tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };
  config = lib.mkMerge [
    { synth.m$(( (i + 1) % n )).tags = [ "from-$i" ]; }
    (lib.mkIf cfg.enable {
      environment.variables.M$i = lib.mkDefault "\${cfg.name}:\${toString cfg.port}";
      users.users.u$i = { isSystemUser = true; group = "synth"; extraGroups = [ "g$i" ]; };
      synth.m$(( (i + 7) % n )).name = lib.mkOverride 900 "renamed-by-$i";
      synth.m$(( (i + 2) % n )).tags = lib.mkBefore [ "early-$i" ];
    })
  ];
}
NIX
done
{
  echo '{ outputs = { self, ... }: { hosts.x = { system = "x86_64-linux"; modules = ['
  for ((i = 0; i < n; i++)); do echo "  ./m/$i.nix"; done
  echo '  { users.groups.synth = { }; }'
  echo ']; }; }; }'
} >"$flake/flake.nix"
run_fl --flake "$flake" eval --host x synth --json
expect_eq "synthetic flake evaluates" 0 "$rc"
expect_contains "mkOverride 900 beats the default" '"name":"renamed-by-0"' "$out"
expect_contains "mkBefore first, then module order" '"tags":["early-39","from-0"]' "$out"
synth=$out
run_fl --flake "$flake" eval --host x users.users.u3.extraGroups --json
expect_eq "attrsOf submodule per key" '["g3"]' "$out"
run_fl --flake "$flake" eval --host x environment.variables.M3
expect_eq "mkDefault under mkIf, reading a name another module overrides" '"renamed-by-36:1003"' "$out"
if [ $have_nix = 1 ]; then
  nix_eval "$flake" x "r.config.synth"
  expect_eq "native and reference engines agree (synth)" "$nout" "$synth"
  nix_eval "$flake" x "r.config.users.users"
  run_fl --flake "$flake" eval --host x users.users --json
  expect_eq "native and reference engines agree (users)" "$nout" "$out"
fi

run_fl --flake "$E" eval --host priority t --json
expect_eq "priorities and ordering" '{"maybe":null,"name":"d","needed":"forced","words":["a","m","n","z"]}' "$out"
if [ $have_nix = 1 ]; then
  nix_eval "$E" priority "r.config.t"
  expect_eq "reference engine agrees on priorities" "$nout" "$out"
fi

# --- errors: HOST OPTION-PATH|- MESSAGE-PART LOCATION
check_err() {
  local host=$1 path=$2 msg=$3 loc=$4
  if [ "$path" = - ]; then run_fl --flake "$E" eval --host "$host" --json
  else run_fl --flake "$E" eval --host "$host" "$path"; fi
  expect_eq "$host: exit" 1 "$rc"
  expect_contains "$host: message" "$msg" "$err"
  expect_contains "$host: location" "$loc" "$err"
  if [ $have_nix = 1 ]; then
    local first
    first=$(printf '%s\n' "$err" | grep -m1 '^error: ')
    if [ "$path" = - ]; then nix_eval "$E" "$host" "r.config"
    else nix_eval "$E" "$host" "r.config.$path"; fi
    expect_contains "$host: the reference engine words it the same" "$first" "$nerr"
  fi
}
check_err dupdecl - "the option \`t.name' is declared more than once: in $E/decl.nix and $E/dupdecl.nix" "errors2/decl.nix:4:5"
check_err groupdef - "\`networking' is a group of options, but $E/groupdef.nix:3:3 defines it as a string" "errors2/groupdef.nix:3:3"
check_err mkmerge networking.hostName "mkMerge needs a list (in the definition of \`networking.hostName'" "errors2/mkmerge.nix:3:3"
check_err undefined networking.hostName "the option \`t.needed' is used but not defined" "errors2/decl.nix:5:5"
check_err mixed - "has both \`config'/\`options' and the top-level attribute \`environment'" "errors2/mixed.nix:4:3"
check_err nullconflict t.maybe "the option \`t.maybe' has conflicting definitions:" "errors2/null2.nix:3:3"
check_err listelem t.words "the option \`t.words.\"[1]\"' is of type string, but $E/listelem.nix:3:3 defines it as an integer: 2" "errors2/listelem.nix:3:3"
check_err subtypo users "the option \`users.users.bob.extraGroup' does not exist" "errors2/subtypo.nix:3:3"
expect_contains "subtypo: did you mean" "did you mean 'extraGroups'?" "$err"
echo "module_native: all assertions passed"
