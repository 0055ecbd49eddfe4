# option_search.sh - `flakectl option --search WORD`: searches the options' names and
# descriptions without building or fetching anything; outside a flake flakectl's own options,
# inside one (or with --flake) the flake's own declarations too, each with its file:line.
# Errors: no match, NAME with --search, a broken flake.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
mkdir -p "$work/empty"
cd "$work/empty"

# line_of FILE PATTERN: the line of the first match (what the declaration's position must be)
line_of() { grep -n -m1 -- "$2" "$1" | cut -d: -f1; }

# --- offline, no flake: the bundled options
run_fl option --search hostname
expect_eq "search exit" 0 "$rc"
l=$(line_of "$FLAKECTL_SRC/src/module/bundled/networking.nix" "hostName = mkOption")
expect_contains "name and type" "networking.hostName (string)" "$out"
expect_contains "description" "The machine's host name" "$out"
expect_contains "declared at" "declared in bundled/networking.nix:$l" "$out"
expect_eq "nothing on stderr" "" "$err"
[ ! -e "$FLAKECTL_STATE_DIR" ] || fail "a search opened the store at $FLAKECTL_STATE_DIR"
# case is ignored, and descriptions are searched (no name has "brewfile")
run_fl option --search HOSTNAME
expect_contains "case ignored" "networking.hostName (string)" "$out"
run_fl option --search brewfile
expect_eq "description search exit" 0 "$rc"
expect_contains "found by its description" "homebrew.enable (boolean)" "$out"
expect_not_contains "only matches" "networking.hostName" "$out"
# options inside submodules, with <name>
run_fl option --search authorizedKeys
expect_contains "submodule option" "users.users.<name>.openssh.authorizedKeys.keys" "$out"
l=$(line_of "$FLAKECTL_SRC/src/module/bundled/users.nix" "openssh.authorizedKeys.keys = mkOption")
expect_contains "submodule option's line" "declared in bundled/users.nix:$l" "$out"
# every platform's options are searchable
run_fl option --search wsl.conf
expect_contains "wsl" "wsl.enable (boolean)" "$out"
run_fl option --search launchd
expect_contains "darwin" "launchd.daemons" "$out"

# --- no match, and usage errors
run_fl option --search no-such-option-word
expect_eq "no match exit" 1 "$rc"
expect_contains "no match says so" "no option's name or description contains 'no-such-option-word'" "$err"
expect_contains "no match hint" "man 5 flakectl-configuration" "$err"
run_fl option --search hostname networking.hostName
expect_eq "NAME and --search" 2 "$rc"
expect_contains "NAME and --search message" "give NAME or --search WORD, not both" "$err"
run_fl option
expect_eq "neither" 2 "$rc"
expect_contains "neither message" "needs NAME (or --search WORD)" "$err"

# --- in a flake: its own options too, with their file:line
mkdir -p "$work/flake/modules"
cat >"$work/flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts.box = { system = "x86_64-linux"; modules = [ ./modules/myapp.nix ./modules/tool.nix ]; };
    hosts.mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ./modules/mac.nix ]; };
  }; }
NIX
cat >"$work/flake/modules/myapp.nix" <<'NIX'
{ lib, config, ... }: {
  options.services.myapp = {
    enable = lib.mkEnableOption "myapp";
    port = lib.mkOption {
      type = lib.types.port;
      default = 8080;
      description = "The port myapp listens on.";
    };
  };
  config.networking.extraHosts = lib.mkIf config.services.myapp.enable "127.0.0.1 myapp";
}
NIX
cat >"$work/flake/modules/tool.nix" <<'NIX'
{ lib, pkgs, ... }: {
  options.myTool.package = lib.mkOption {
    type = lib.types.package;
    default = pkgs.writeShellScriptBin "mytool" "echo hi";
    description = "The mytool script (a default that would have to be built).";
  };
}
NIX
cat >"$work/flake/modules/mac.nix" <<'NIX'
{ lib, ... }: {
  options.macOnly.dockSize = lib.mkOption { type = lib.types.int; default = 48; description = "Dock icon size (a mac-only option of this flake)."; };
}
NIX
cd "$work/flake"
run_fl option --search myapp
expect_eq "flake search exit" 0 "$rc"
expect_contains "user option" "services.myapp.port (16 bit unsigned integer)" "$out"
expect_contains "user option description" "The port myapp listens on." "$out"
expect_contains "user option default" "default: 8080" "$out"
expect_contains "user option at file:line" \
    "declared in modules/myapp.nix:$(line_of modules/myapp.nix 'port = lib.mkOption')" "$out"
expect_contains "mkEnableOption" "services.myapp.enable (boolean)" "$out"
# a package default is named, not built
run_fl option --search mytool
expect_contains "package default" "default: «package mytool»" "$out"
# every host's declarations, without --host; one host's with it
run_fl option --search dock
expect_contains "another host's option" "macOnly.dockSize" "$out"
run_fl option --search dock --host box
expect_eq "not declared for box" 1 "$rc"
run_fl option --search myapp --host box
expect_contains "--host box" "services.myapp.port" "$out"
# the bundled options are still there, once
run_fl option --search hostname
expect_eq "bundled listed once" 1 "$(printf '%s\n' "$out" | grep -c '^networking.hostName ')"
# --flake from elsewhere
cd "$work/empty"
run_fl --flake "$work/flake" option --search myapp
expect_contains "--flake" "services.myapp.port" "$out"
# no build happened, nothing was fetched: the store holds nothing
[ -z "$(ls -A "$FLAKECTL_STATE_DIR/store" 2>/dev/null | grep -v '^\.')" ] ||
    fail "search built or copied something: $(ls -A "$FLAKECTL_STATE_DIR/store")"

# --- a broken flake: named with --flake, an error at its file:line; found upward, a warning
printf '{ outputs = { self, ... }: { hosts = {\n' >"$work/flake/flake.nix"
run_fl --flake "$work/flake" option --search myapp
expect_eq "broken flake named" 1 "$rc"
expect_contains "error names the file" "$work/flake/flake.nix:" "$err"
cd "$work/flake"
run_fl option --search hostname
expect_eq "broken flake found upward still searches" 0 "$rc"
expect_contains "bundled results" "networking.hostName" "$out"
expect_contains "warning says why" "the flake's could not be read" "$err"
expect_contains "warning has the error" "flake.nix:" "$err"
run_fl --quiet option --search hostname
expect_eq "quiet" "" "$err"
echo "option_search: ok"
