#!/usr/bin/env bash
# cli_color.sh - colour on a terminal only: errors, plans and diffs are coloured when the
# output is a terminal (a real pty), plain in a pipe, with NO_COLOR (non-empty), TERM=dumb or
# --color never; --color always colours a pipe (for less -R). Colour adds escape codes and
# nothing else: stripped of them, a coloured run prints the same text as a plain one.
source "$FLAKECTL_SRC/tests/e2e/lib/cli-test.bash"
fl() { "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" --root "$T/root" "$@"; }
has_esc() { grep -q "$ESC\[" "$1"; }
strip() { sed "s/$ESC\[[0-9;]*m//g" "$1"; }

mkdir -p "$T/root"
echo '{ ... }: { environment.etc."app.conf".text = "port = 80\n"; }' >"$T/f/host.nix"
fl switch --host h >/dev/null 2>&1 || { fail "first switch"; exit 1; }
echo '{ ... }: { environment.etc."app.conf".text = "port = 8080\n"; environment.etc.new.text = "x"; }' >"$T/f/host.nix"
fl switch --host h >/dev/null 2>&1 || { fail "second switch"; exit 1; }

# a terminal: the diff's + and - lines and the plan's markers are coloured
$PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/tty.diff" 2>&1
grep -q "$ESC\[32m      +port = 8080$ESC\[0m" "$T/tty.diff" || fail "added diff line not green on a tty: $(cat -v "$T/tty.diff")"
grep -q "$ESC\[31m      -port = 80$ESC\[0m" "$T/tty.diff" || fail "removed diff line not red on a tty"
grep -q "$ESC\[32m    + /etc/new$ESC\[0m" "$T/tty.diff" || fail "added file not green on a tty"
grep -q "$ESC\[33m    ~ /etc/app.conf$ESC\[0m" "$T/tty.diff" || fail "changed file not yellow on a tty"
grep -q "$ESC\[36m      @@ " "$T/tty.diff" || fail "hunk header not cyan on a tty"

# a pipe: the same text, no escape codes
"$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/pipe.diff" 2>&1
has_esc "$T/pipe.diff" && fail "escape codes in a pipe: $(cat -v "$T/pipe.diff")"
# every section says when it has nothing (users and groups used to stay empty in a diff)
grep -A1 '^  users and groups:$' "$T/pipe.diff" | grep -q '^    (no change)$' || fail "diff: no '(no change)' for users and groups: $(cat "$T/pipe.diff")"
[ "$(strip "$T/tty.diff")" = "$(cat "$T/pipe.diff")" ] ||
    fail "colour changed the text: $(diff <(strip "$T/tty.diff") "$T/pipe.diff")"

# the plan of dry-activate on a terminal
echo '{ ... }: { environment.etc."app.conf".text = "port = 9090\n"; }' >"$T/f/host.nix"
$PTY "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" --root "$T/root" dry-activate --host h >"$T/tty.plan" 2>&1
grep -q "$ESC\[31m    - /etc/new$ESC\[0m" "$T/tty.plan" || fail "removed file not red in dry-activate's plan: $(cat -v "$T/tty.plan")"
grep -q "$ESC\[32m      +port = 9090" "$T/tty.plan" || fail "plan's diff not coloured"

# errors: "error:" and "hint:" coloured on a terminal, plain in a pipe
$PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 9 >"$T/tty.err" 2>&1
grep -q "$ESC\[1;31merror:$ESC\[0m generation 9 does not exist" "$T/tty.err" || fail "error not coloured on a tty: $(cat -v "$T/tty.err")"
grep -q "$ESC\[1;36mhint:$ESC\[0m" "$T/tty.err" || fail "hint not coloured on a tty"
"$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 9 >"$T/pipe.err" 2>&1
has_esc "$T/pipe.err" && fail "escape codes in an error in a pipe"
grep -q "^error: generation 9 does not exist" "$T/pipe.err" || fail "plain error: $(cat "$T/pipe.err")"
# an evaluation error's caret
echo '{ ... }: { environment.etc.x.text = 1 + "a"; }' >"$T/f/host.nix"
$PTY "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/tty.eval" 2>&1
grep -q "$ESC\[1;31merror:" "$T/tty.eval" || fail "evaluation error not coloured: $(cat -v "$T/tty.eval")"

# off on a terminal: NO_COLOR (any non-empty value), --color never, TERM=dumb
NO_COLOR=1 $PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/nc" 2>&1
has_esc "$T/nc" && fail "NO_COLOR=1 still coloured"
NO_COLOR=1 $PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 9 >"$T/nc.err" 2>&1
has_esc "$T/nc.err" && fail "NO_COLOR=1 still coloured an error"
$PTY "$FLAKECTL" --color never --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/never" 2>&1
has_esc "$T/never" && fail "--color never still coloured"
$PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 --color=never >"$T/never2" 2>&1
has_esc "$T/never2" && fail "--color=never after the command still coloured"
TERM=dumb $PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/dumb" 2>&1
has_esc "$T/dumb" && fail "TERM=dumb still coloured"
# an empty NO_COLOR is unset (no-color.org)
NO_COLOR= $PTY "$FLAKECTL" --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/ncempty" 2>&1
has_esc "$T/ncempty" || fail "an empty NO_COLOR turned colour off"

# on in a pipe with --color always (less -R), even with NO_COLOR: the flag is explicit
"$FLAKECTL" --color always --state-dir "$T/state" --root "$T/root" diff 1 2 >"$T/always" 2>&1
grep -q "$ESC\[32m      +port = 8080" "$T/always" || fail "--color always in a pipe not coloured"
NO_COLOR=1 "$FLAKECTL" --color always --state-dir "$T/state" --root "$T/root" diff 1 9 2>"$T/always.err"
grep -q "$ESC\[1;31merror:" "$T/always.err" || fail "--color always did not colour an error in a pipe"
[ "$(strip "$T/always")" = "$(cat "$T/pipe.diff")" ] || fail "--color always changed the text"
"$FLAKECTL" --color sometimes diff 1 2 >/dev/null 2>"$T/bad"
grep -q "takes auto, always or never" "$T/bad" || fail "a bad --color value: $(cat "$T/bad")"

finish cli_color
