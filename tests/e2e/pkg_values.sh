# pkg_values.sh - package values in the module layer and `flakectl check`, no manager needed:
# an unknown pkgs name is located with "did you mean" (as pkgs.x and under `with pkgs;`), a
# plain string is refused with what to write, pkgs.native refuses an option-like name, check
# lists packages the host's manager has no name for with file:line:col, and a darwin host's
# Brewfile holds the index's brew names.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
flake="$work/flake"
mkdir -p "$flake"
cat >"$flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts.box = { system = "x86_64-linux"; modules = [ ./box.nix ]; };
    hosts.mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ./mac.nix ]; };
  }; }
NIX
cat >"$flake/mac.nix" <<'NIX'
{ pkgs, ... }: { environment.systemPackages = with pkgs; [ ripgrep python311 ]; homebrew.casks = [ "firefox" ]; }
NIX
box() { printf '{ pkgs, ... }:\n{\n  %s\n}\n' "$1" >"$flake/box.nix"; }

box 'environment.systemPackages = [ pkgs.ripgrp ];'
run_fl --flake "$flake" build --host box
expect_eq "unknown name fails" 1 "$rc"
expect_contains "says there is no such package" "no package 'ripgrp' in pkgs" "$err"
expect_contains "located at the user's file" "box.nix:3:34" "$err"
expect_contains "did you mean" "did you mean 'ripgrep'?" "$err"

box 'environment.systemPackages = with pkgs; [ git htopp ];'
run_fl --flake "$flake" build --host box
expect_contains "with pkgs: no such package" "no package 'htopp' in pkgs" "$err"
expect_contains "with pkgs: located" "box.nix:3:49" "$err"
expect_contains "with pkgs: did you mean" "did you mean 'htop'?" "$err"

box 'environment.systemPackages = [ "/usr/bin/git" ];'
run_fl --flake "$flake" build --host box
expect_eq "a plain string fails" 1 "$rc"
expect_contains "type error" "is of type package" "$err"
expect_contains "says what to write" "a package is pkgs.<name>" "$err"

box 'environment.systemPackages = [ (pkgs.native { apt = "-oAPT::Get::Foo=1"; }) ];'
run_fl --flake "$flake" build --host box
expect_eq "an option-like name fails" 1 "$rc"
expect_contains "names the bad name" 'apt = "-oAPT::Get::Foo=1" is not a package name' "$err"

# check: eza has no Debian 12 package; pkgs.native without apt neither
box 'environment.systemPackages = with pkgs; [ git eza (pkgs.native { dnf = "foo"; }) ];'
run_fl --flake "$flake" check --host box
expect_eq "check fails" 1 "$rc"
expect_contains "check names the host" "FAIL box" "$out"
expect_contains "eza has no apt name, with its line" "eza (declared at $flake/box.nix:3:3) has no apt package" "$err"
expect_contains "pkgs.native without apt" "foo (declared at $flake/box.nix:3:3) has no apt package" "$err"
box 'environment.systemPackages = with pkgs; [ git eza ]; system.packageManager = "dnf";'
run_fl --flake "$flake" check --host box
expect_eq "on dnf eza exists" 0 "$rc"

# a dnf host: the plan and dnf's exact command line, nothing run (no dnf on this machine)
mkdir -p "$work/root"
run_fl --flake "$flake" --root "$work/root" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch of a dnf host into an empty root" 0 "$rc"
expect_contains "dnf plan" "+ eza (dnf)" "$out"
expect_contains "dnf command line" "would run: dnf -y --setopt=install_weak_deps=False install -- git eza" "$out"
expect_contains "says nothing was installed" "nothing was installed: flakectl runs apt only so far" "$out"

# home.packages takes the same values and is checked the same way
box 'users.users.al.isNormalUser = true; home-manager.users.al.home.packages = [ pkgs.eza ];'
run_fl --flake "$flake" check --host box
expect_contains "home.packages checked" "eza (declared at $flake/box.nix:3:39) has no apt package" "$err"

# the profile: native packages with their names, store packages apart
box 'environment.systemPackages = with pkgs; [ fd (writeShellScriptBin "hi" "echo hi") ];'
run_fl --flake "$flake" build --host box --no-link
expect_eq "build" 0 "$rc"
top="$out"
expect_eq "fd is fd-find on apt" "fd-find" "$(jq -r '.nativePackages[0].apt' "$top/profile.json")"
expect_eq "the store package links into sw/" "yes" "$([ -x "$top/sw/bin/hi" ] && echo yes)"
expect_eq "no native package in sw/" "1" "$(jq '.packages | length' "$top/profile.json")"

# diff: native packages by name between two toplevels
box 'environment.systemPackages = with pkgs; [ fd htop ];'
run_fl --flake "$flake" build --host box --no-link
run_fl diff "$top" "$out"
expect_contains "diff adds htop" "+ htop (native package)" "$out"
expect_not_contains "diff keeps fd" "fd (native package)" "$out"

# check --apt-lists: names looked up in this machine's apt lists (where it has them)
if command -v apt-cache >/dev/null && ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  box 'environment.systemPackages = [ pkgs.hello (pkgs.native "flakectl-no-such-package") ];'
  run_fl --flake "$flake" check --host box
  expect_eq "without --apt-lists the name is not looked up" 0 "$rc"
  run_fl --flake "$flake" check --host box --apt-lists
  expect_eq "with --apt-lists it fails" 1 "$rc"
  expect_contains "names the missing package" "apt name 'flakectl-no-such-package' is not in this machine's apt lists" "$err"
  expect_not_contains "hello is found" "'hello'" "$err"
else
  echo "note: no apt lists here; check --apt-lists not exercised"
fi

# darwin: the Brewfile
run_fl --flake "$flake" build --host mac --no-link
expect_eq "mac build" 0 "$rc"
expect_eq "Brewfile" 'brew "python@3.11"
brew "ripgrep"
cask "firefox"' "$(cat "$out/activation/Brewfile")"
echo ok
