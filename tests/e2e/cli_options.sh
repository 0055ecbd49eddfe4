# cli_options.sh - the command line's one parser (src/cli/opt.c): values are never taken for
# options, global options work before and after the command, strict numbers, "did you mean",
# and --help generated for every command. Each case names the defect it guards against.
set -uo pipefail
: "${FLAKECTL:?run through ctest (FLAKECTL is the binary)}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# run ARGS...: runs flakectl, leaving rc, out and err
run() { "$FLAKECTL" --state-dir "$T/state" "$@" >"$T/out" 2>"$T/err"; rc=$?; out=$(cat "$T/out"); err=$(cat "$T/err"); }
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, expected $1 (stderr: $err)"; }
expect_in() { case "$2" in *"$3"*) ;; *) fail "$1: expected '$3' in: $2" ;; esac; }
expect_not_in() { case "$2" in *"$3"*) fail "$1: did not expect '$3' in: $2" ;; esac; }

# an option's value is the next argument, even when it looks like a global option
run eval --expr -v
expect_rc 1 "eval --expr -v"
expect_in "eval --expr -v evaluates '-v'" "$err" "undefined variable 'v'"
expect_not_in "eval --expr -v" "$err" "unexpected argument"
run eval -v --expr '1 + 1'
expect_rc 0 "global option before an option"; expect_in "-v before" "$out" "2"
run eval --expr '1 + 1' -v --show-trace
expect_rc 0 "global options after the command"; expect_in "-v after" "$out" "2"
run --quiet eval --expr=40+2
expect_rc 0 "--opt=value"; expect_in "--expr=" "$out" "42"
run eval --strict=yes --expr 1
expect_rc 2 "a flag with a value"; expect_in "flag value" "$err" "--strict takes no value"

# a missing value is named as such
run build --host
expect_rc 2 "build --host without value"
expect_in "build --host" "$err" "--host needs a value"
expect_not_in "build --host" "$err" "unexpected argument"
run --flake
expect_rc 2 "global option without value"; expect_in "--flake alone" "$err" "--flake needs a value"

# --help after an option's value is help, and nothing connects
run switch --target-host nobody@127.0.0.1:1 --help
expect_rc 0 "switch --target-host h --help"
expect_in "switch help" "$out" "usage: flakectl switch"
expect_in "switch help lists the SSH group" "$out" "--known-hosts FILE"
expect_not_in "switch --help" "$err" "unexpected"

# strict integers and durations
run switch -j 3x --on @all
expect_rc 2 "-j 3x"; expect_in "-j 3x" "$err" "'3x'"
run remote-exec -j 3x --target-host a@b -- true
expect_rc 2 "remote-exec -j 3x"
run switch --confirm-timeout 5s --target-host a@b
expect_rc 2 "--confirm-timeout 5s"; expect_in "confirm-timeout" "$err" "'5s'"
run rollback --to 2x
expect_rc 2 "rollback --to 2x"
run gc --older-than 7x
expect_rc 2 "gc --older-than 7x"; expect_in "gc duration" "$err" "not a duration"
run --color sometimes eval --expr 1
expect_rc 2 "--color sometimes"; expect_in "--color choices" "$err" "auto, always or never"

# did you mean, for commands, subcommands and options
run swtich
expect_rc 2 "swtich"; expect_in "swtich" "$err" "did you mean 'switch'?"
run build --hots h
expect_rc 2 "--hots"; expect_in "--hots" "$err" "did you mean '--host'?"
run secret ecnrypt
expect_rc 2 "secret ecnrypt"; expect_in "ecnrypt" "$err" "did you mean 'encrypt'?"
run eval --stirct --expr 1
expect_rc 2 "--stirct"; expect_in "--stirct" "$err" "did you mean '--strict'?"
run --show-trac eval --expr 1
expect_rc 2 "--show-trac"; expect_in "--show-trac" "$err" "did you mean '--show-trace'?"

# help, generated from the tables
run link-farm --help
expect_rc 0 "link-farm --help"; expect_in "link-farm help" "$out" "usage: flakectl link-farm"
run help switch
expect_rc 0 "help switch"; expect_in "help switch" "$out" "usage: flakectl switch"
run help store add
expect_rc 0 "help store add"; expect_in "help store add" "$out" "usage: flakectl store add"
run help swich
expect_rc 2 "help swich"; expect_in "help swich" "$err" "did you mean 'switch'?"
for c in rollback generations; do
    run $c --help
    expect_rc 0 "$c --help"
    expect_in "$c --help shows --target-host" "$out" "--target-host"
    run help $c
    expect_rc 0 "help $c"
    expect_in "help $c shows --target-host" "$out" "--target-host"
done
run generations list --help
expect_rc 0 "generations list --help"; expect_in "generations list shows --target-host" "$out" "--target-host"
run help link-farm
expect_rc 0 "help link-farm"; expect_in "help link-farm" "$out" "usage: flakectl link-farm"
run link-farm -h
expect_rc 0 "link-farm -h"; expect_in "link-farm -h" "$out" "usage: flakectl link-farm"
# help for a command is never the global usage, however it is asked for
for form in "help switch" "--help switch" "-h switch" "help switch --host x" "--flake /nonexistent help switch"; do
    run $form
    expect_rc 0 "$form"
    expect_in "$form" "$out" "usage: flakectl switch"
    expect_not_in "$form is not the global usage" "$out" "usage: flakectl [global options]"
done
# (run puts --state-dir DIR first: a global option's value does not hide --help)
run --help
expect_rc 0 "--state-dir DIR --help"; expect_in "--help after a global option" "$out" "usage: flakectl [global options]"
expect_not_in "--help after a global option" "$out" "(null)"
run --override-input a b -h
expect_rc 0 "two-value global option, -h"; expect_in "-h after two values" "$out" "usage: flakectl [global options]"
run --help store add
expect_rc 0 "--help store add"; expect_in "--help store add" "$out" "usage: flakectl store add"
run --help swich
expect_rc 2 "--help swich"; expect_in "--help swich" "$err" "did you mean 'switch'?"
# every command answers --help with its usage line, on stdout, exit 0
for c in $("$FLAKECTL" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p' | grep -v '^-'); do
    run $c --help
    expect_rc 0 "$c --help"
    expect_in "$c --help" "$out" "usage: flakectl $c"
done
run
expect_rc 2 "no command"; expect_in "no command" "$err" "usage: flakectl"

# a subcommand's word after an option still names the subcommand
run generations --quiet delete 999
expect_rc 1 "generations --quiet delete 999"
expect_in "generations delete after an option" "$err" "generation 999 does not exist"

# "--" ends the options: what follows is an argument even when it starts with a dash
printf 'x' > ./-dash
run store add -- -dash
expect_rc 0 "store add -- -dash"; expect_in "store add --" "$out" "-dash"
# a global option after "--" is an argument, not an option
run update -- --quiet
expect_rc 1 "update -- --quiet"; expect_not_in "update -- --quiet" "$err" "unknown option"

[ "$fails" = 0 ] || { echo "cli_options: $fails failure(s)"; exit 1; }
echo "cli_options: all checks passed"
