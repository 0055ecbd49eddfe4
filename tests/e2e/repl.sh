# repl.sh - `flakectl repl`: piped stdin (one input a line, errors with their location and
# the repl going on, exit status 1 when any failed), without --host (builtins and lib only),
# and through a real terminal: tmux runs the repl, send-keys types, capture-pane reads the
# screen for evaluation, TAB completion, :t and the history file.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
sock="$work/tmux.sock"
trap 'tmux -S "$sock" kill-server 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
export XDG_STATE_HOME="$work/xdg-state"
f="$work/flake"
mkdir -p "$f"
cat >"$f/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts.web = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; };
  }; }
NIX
cat >"$f/host.nix" <<'NIX'
{ config, lib, pkgs, ... }:
{
  options.services.openssh = {
    enable = lib.mkOption { type = lib.types.bool; default = false; description = "Run the OpenSSH daemon."; };
    port = lib.mkOption { type = lib.types.port; default = 22; description = "The port sshd listens on."; };
  };
  config = {
    services.openssh.enable = true;
    networking.hostName = "web";
    environment.etc.motd.text = "hi\n";
  };
}
NIX

# --- piped: each line one input; an error is located and the next line still runs
out=$(printf '%s\n' '1 + 2' 'config.networking.hostName' ':t config.services.openssh.port' \
  'undefinedThing + 1' 'host.name' ':doc config.services.openssh.enable' ':p { a = [ 1 2 ]; }' \
  '{ x = 1; y = throw "boom"; }' ':t lib.mkIf' ':frob' \
  | "$FLAKECTL" --flake "$f" repl --host web 2>"$work/err")
rc=$?
err=$(cat "$work/err")
expect_eq "piped exit status (some inputs failed)" 1 "$rc"
expect_contains "arithmetic" $'3\n"web"' "$out"
expect_contains ":t option type" "type: 16 bit unsigned integer" "$out"
expect_contains ":t option description" "description: The port sshd listens on." "$out"
expect_contains "error located in the input" "undefined variable 'undefinedThing'" "$err"
expect_contains "error position" "at «repl»:1:1" "$err"
expect_contains "the repl went on" $'"web"\noption config.services.openssh.enable' "$out"
expect_contains ":doc default" "default: false" "$out"
expect_contains ":doc declared" "declared in: $f/host.nix:4:5" "$out"
expect_contains ":p deep" "{ a = [ 1 2 ]; }" "$out"
expect_contains "a failing attribute does not hide the others" '{ x = 1; y = «error: boom»; }' "$out"
expect_contains ":t a function" "a value of type lambda" "$out"
expect_contains "unknown command" "unknown command ':frob'" "$err"

# --- bindings: `name = expr` is in scope for the inputs after it, prints nothing
out=$(printf '%s\n' 'x = 40 + 2' 'port = config.services.openssh.port' 'port + x' 'x == 42' \
  'lib = 5' 'lib' 'y = nope' | "$FLAKECTL" --flake "$f" repl --host web 2>"$work/err")
err=$(cat "$work/err")
expect_eq "bindings" $'64\ntrue\n5' "$out"
expect_contains "a binding's error is located in its input" "at «repl»:1:5" "$err"

# --- an input that ends inside an expression goes on on the next line; at the end of the
# input an open expression is a located error
out=$(printf '%s\n' 'let a = 1;' '  b = 2;' 'in a + b' '{' '  x = 1;' '}' '"open' \
  | "$FLAKECTL" --flake "$f" repl --host web 2>"$work/err")
rc=$?
err=$(cat "$work/err")
expect_eq "multi-line inputs" $'3\n{ x = 1; }' "$out"
expect_eq "an open expression at the end fails" 1 "$rc"
expect_contains "open string" "unexpected end of file" "$err"

out=$(printf '%s\n' '1 + 1' ':q' 'this is never read' | "$FLAKECTL" --flake "$f" repl --host web 2>&1)
expect_eq "all fine: exit 0, :q stops reading" "0:2" "$?:$out"

# --- without --host: builtins and lib, no config
out=$(printf '%s\n' 'lib.optionalString true "yes"' 'builtins.length [ 1 2 ]' 'config' \
  | "$FLAKECTL" repl 2>"$work/err")
err=$(cat "$work/err")
expect_contains "lib without a host" $'"yes"\n2' "$out"
expect_contains "no config without a host" "undefined variable 'config'" "$err"

# --- a real terminal
if ! command -v tmux >/dev/null; then
  echo "SKIP: tmux is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
pane() { tmux -S "$sock" capture-pane -p -t repl; }
# wait_for TEXT: until the screen shows TEXT (10 s)
wait_for() {
  for _ in $(seq 100); do
    case "$(pane)" in *"$1"*) return 0;; esac
    sleep 0.1
  done
  fail "the terminal never showed [$1]; it shows:
$(pane)"
}
keys() { tmux -S "$sock" send-keys -t repl "$@"; }
tmux -S "$sock" new-session -d -s repl -x 160 -y 50 \
  "env XDG_STATE_HOME='$XDG_STATE_HOME' XDG_CACHE_HOME='$XDG_CACHE_HOME' FLAKECTL_STATE_DIR='$FLAKECTL_STATE_DIR' '$FLAKECTL' --flake '$f' repl --host web; echo REPL-ENDED; sleep 30"
wait_for "flakectl>"
keys 'config.networking.hostN' Tab
wait_for "flakectl> config.networking.hostName"
keys Enter
wait_for '"web"'
keys 'config.services.openssh.' Tab
wait_for "enable  port"
keys 'po' Tab
wait_for "flakectl> config.services.openssh.port"
keys Enter
wait_for $'openssh.port\n22'
keys ':t config.services.openssh.enable' Enter
wait_for "description: Run the OpenSSH daemon."
keys 'nope + 1' Enter
wait_for "undefined variable 'nope'"
wait_for "«repl»:1:1"
keys 'host.platform' Enter
wait_for '"nixos"'
keys 'let n = 20; ' Enter  # a trailing ';' would end tmux's command
wait_for "        >"
keys 'in n + 1' Enter
wait_for $'in n + 1\n21'
keys ':q' Enter
wait_for "REPL-ENDED"
hist=$(cat "$XDG_STATE_HOME/flakectl/repl-history")
expect_contains "history kept" 'config.networking.hostName' "$hist"
expect_contains "history kept :t" ':t\040config.services.openssh.enable' "$hist"
expect_eq "history private" 600 "$(stat -c %a "$XDG_STATE_HOME/flakectl/repl-history")"
echo "repl: ok"
