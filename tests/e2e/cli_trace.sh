#!/usr/bin/env bash
# cli_trace.sh - what the evaluator says besides its result reaches stderr through the sink
# the command line gives it (the library prints nothing itself), on every path that
# evaluates: `eval --expr` (byte for byte what nix-instantiate 2.8 prints on stderr), a host's
# modules during `build`, secrets/secrets.nix during `check`, and Nix's warning about a
# missing search path entry.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export FLAKECTL_STATE_DIR="$work/state" XDG_CACHE_HOME="$work/cache"

expr='builtins.trace "first" (builtins.trace { a = [ 1 "x" ]; } (builtins.trace 2 3))'
run_fl eval --expr "$expr"
expect_eq "eval exit" 0 "$rc"
expect_eq "eval result" 3 "$out"
expect_eq "eval's trace lines" $'trace: first\ntrace: { a = <CODE>; }\ntrace: 2' "$err"
if have_nix; then
    nixerr=$(nixo nix-instantiate --eval -E "$expr" 2>&1 >/dev/null)
    expect_eq "the same lines as nix-instantiate" "$nixerr" "$err"
fi
echo "ok: eval --expr traces on stderr, as nix-instantiate"

run_fl eval -I /nonexistent-trace-entry --expr '(builtins.tryEval <x>).success'
expect_eq "warning exit" 0 "$rc"
expect_eq "warning result" false "$out"
expect_eq "the search path warning" \
    "warning: Nix search path entry '/nonexistent-trace-entry' does not exist, ignoring" "$err"
echo "ok: warnings through the same sink"

F="$work/flake"
mkdir -p "$F/secrets"
cat >"$F/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.n1 = {
  system = "x86_64-linux"; platform = "nixos"; modules = [ ./n1.nix ];
}; }; }
NIX
cat >"$F/n1.nix" <<'NIX'
{ ... }: { networking.hostName = builtins.trace "evaluating n1's hostName" "n1"; }
NIX
cat >"$F/secrets/secrets.nix" <<'NIX'
builtins.trace "reading secrets.nix" { }
NIX
run_fl --flake "$F" build --no-link --host n1
expect_eq "build exit" 0 "$rc"
expect_contains "a module's trace during build" $'trace: evaluating n1\'s hostName\n' "$err"$'\n'
run_fl --flake "$F" check
expect_eq "check exit" 0 "$rc"
expect_contains "a module's trace during check" "trace: evaluating n1's hostName" "$err"
expect_contains "secrets.nix's trace during check" "trace: reading secrets.nix" "$err"
echo "ok: host modules and secrets.nix trace on stderr"
