#!/usr/bin/env bash
# eval_host_nobuild.sh - `flakectl eval --host H PATH` evaluates and prints, it never builds or
# downloads (as `nix eval`): a derivation whose builder fails and a pkgs.fetchurl from a URL
# that nothing answers print as the store paths their builds would make, exit 0, no builder
# runs, nothing connects to the URL's listener, and neither output appears in the store; the
# paths are those `build` then tries to make (where it fails, as it should).
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
lpid=
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
state="$work/state"
store="$state/store"

# A listener that writes a line per connection it accepts: the evaluation must make none.
python3 - "$work/port" "$work/connections" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(120)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
deadline = time.time() + 120
while time.time() < deadline:
    try:
        c, _ = s.accept()
    except OSError:
        break
    with open(sys.argv[2], "a") as f:
        f.write("connected\n")
    c.close()
PY
lpid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
url="http://127.0.0.1:$port/tool.tar.gz"

mkdir "$work/flake"
cat > "$work/flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; }; }; }
NIX
cat > "$work/flake/host.nix" <<NIX
{ lib, pkgs, ... }:
let
  broken = derivation {
    name = "would-fail"; builder = "/bin/sh"; system = "x86_64-linux";
    args = [ "-c" "echo ran >> $work/runs; exit 1" ]; };
  fetched = pkgs.fetchurl { url = "$url"; name = "would-fetch";
    hash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; };
in {
  options.test = lib.mkOption { type = lib.types.attrsOf lib.types.str; };
  config.test = { drv = "\${broken}"; fod = "\${fetched}"; };
  config.environment.etc."broken".source = broken;
}
NIX
fl() { run_fl --state-dir "$state" --flake "$work/flake" "$@"; }

fl eval --host h test.drv
expect_eq "a failing derivation: exit ($err)" 0 "$rc"
expect_contains "a failing derivation: its path" "$store/" "$out"
expect_contains "a failing derivation: named" "-would-fail\"" "$out"
drv=$(eval echo "$out")
fl eval --host h test.fod
expect_eq "an unreachable download: exit ($err)" 0 "$rc"
expect_contains "an unreachable download: named" "-would-fetch\"" "$out"
fod=$(eval echo "$out")
expect_not_contains "no download announced" "downloading" "$err"
fl eval --host h test --json
expect_eq "the set as JSON: exit ($err)" 0 "$rc"
expect_eq "the set as JSON" "{\"drv\":\"$drv\",\"fod\":\"$fod\"}" "$(printf '%s' "$out" | tr -d ' \n')"
fl eval --host h environment.etc.broken.source
expect_eq "a derivation value: exit ($err)" 0 "$rc"
fl eval --host h --json
expect_eq "the profile as JSON: exit ($err)" 0 "$rc"
expect_contains "the profile names the planned output" "$drv" "$out"

[ ! -e "$work/runs" ] || fail "eval --host ran a builder"
[ ! -e "$work/connections" ] || fail "eval --host connected to the download's URL"
[ ! -e "$drv" ] || fail "eval --host made $drv"
[ ! -e "$fod" ] || fail "eval --host made $fod"
expect_eq "nothing named after either in the store" "" \
  "$(ls -A "$store" 2>/dev/null | grep -E -- '-would-(fail|fetch)' || true)"
if have_nix; then
  nixp=$(NIX_STORE_DIR="$store" nixo nix-instantiate --eval --strict -E \
    "(import <nix/fetchurl.nix> { url = \"$url\"; name = \"would-fetch\"; hash = \"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"; }).outPath")
  expect_eq "the download's path is nix-instantiate's" "$nixp" "\"$fod\""
fi
echo "ok: eval --host prints would-be paths and builds, runs and downloads nothing"

# build is what makes them: it runs the builder and asks the URL, and fails
fl build --host h --no-link
expect_eq "build fails" 1 "$rc"
[ -e "$work/runs" ] || [ -e "$work/connections" ] || fail "build neither built nor downloaded (the checks above would be void)"
echo "ok: build tries what eval --host only named"
