# cli-test.bash - what the tests of the command line's output share (cli_color, cli_json,
# cli_progress): a temp dir T (removed at exit) as the working directory, fail() that counts
# and goes on, finish NAME that exits with the verdict, a flake with host `h` in $T/f whose
# module the test writes to $T/f/host.nix, and PTY to run a command on a real pseudo-terminal.
set -uo pipefail
: "${FLAKECTL:?run through ctest (FLAKECTL is the binary)}"
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() { [ "$fails" = 0 ] || exit 1; echo "$1: ok"; }
PTY="python3 $FLAKECTL_SRC/tests/e2e/lib/ptyrun.py"
ESC=$'\033'
CR=$'\r'
export TERM=xterm
unset NO_COLOR
host_flake "$T/f"
