# pkg_progress.sh - apt's installs report progress (APT::Status-Fd) through flakectl's one
# reporter, against real apt in a copy of the cached Debian 12 root: in a pipe a plain line
# per package step and per package installed, "n of m" counting what apt unpacks (sl brings libncurses6: 2); on a
# terminal (a real pty) one updating line "installing packages (apt): n/m packages  NAME";
# --quiet: none of it.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/debian-root.bash"
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot and mounts)"; exit 77; }
PTY="python3 $FLAKECTL_SRC/tests/e2e/lib/ptyrun.py"
ESC=$'\033'
CR=$'\r'
export TERM=xterm
source "$(dirname "$0")/lib/apt-box.bash"

# a pipe: apt's own output as before, and the reporter's plain lines
declare_pkgs "hello"
run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "pipe switch" 0 "$rc"
expect_eq "hello installed" "hello " "$(installed hello)"
grep -q "^installing packages (apt): \[1/1\] hello$" <<<"$err" || fail "no count line for hello: $err"
grep -q "^apt: Installing hello\|^apt: Unpacking hello\|^apt: Preparing" <<<"$err" || fail "no step line from apt's status: $err"
expect_not_contains "no escapes in a pipe" "$ESC" "$err"
expect_contains "apt's own output still shows" "Setting up hello" "$out"

# a terminal: the updating line counts the packages apt unpacks
declare_pkgs "hello sl"
tty=$($PTY "$FLAKECTL" --flake "$flake" switch --host box 2>&1) || fail "switch on a pty: $tty"
expect_eq "sl installed" "hello sl " "$(installed hello sl)"
grep -q "${CR}${ESC}\[Kinstalling packages (apt): 2/2 packages  sl" <<<"$tty" ||
  fail "no updating line on a terminal: $(cat -v <<<"$tty")"
grep -q "^installing packages (apt): \[" <<<"$tty" && fail "per-package lines on a terminal without -v"

# --quiet: nothing of it
declare_pkgs "hello sl jq"
run_fl --quiet --flake "$flake" switch --host box
expect_eq "quiet switch" 0 "$rc"
expect_eq "jq installed" "jq " "$(installed jq)"
expect_not_contains "quiet: no progress" "installing packages" "$err"
expect_not_contains "quiet: no apt steps" "apt: " "$err"
echo "pkg_progress: ok"
