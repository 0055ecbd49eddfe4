# assert.sh - tiny assertions for the e2e scripts (sourced). Each failure names what was
# expected and shows what came instead, then exits non-zero.

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run NAME CMD...: runs CMD, keeps its stdout in $OUT, stderr in $ERR, status in $RC
run() {
    local _o _e
    _o=$(mktemp) _e=$(mktemp)
    "$@" >"$_o" 2>"$_e"
    RC=$?
    OUT=$(cat "$_o")
    ERR=$(cat "$_e")
    rm -f "$_o" "$_e"
}

expect_rc() { # WANT
    [ "$RC" = "$1" ] || fail "expected exit status $1, got $RC${ERR:+; stderr:
$ERR}${OUT:+
stdout:
$OUT}"
}

expect_in() { # WHICH(OUT|ERR) SUBSTRING
    local hay
    if [ "$1" = OUT ]; then hay=$OUT; else hay=$ERR; fi
    case "$hay" in
        *"$2"*) ;;
        *) fail "expected $1 to contain '$2'; it was:
$hay" ;;
    esac
}

expect_not_in() { # WHICH SUBSTRING
    local hay
    if [ "$1" = OUT ]; then hay=$OUT; else hay=$ERR; fi
    case "$hay" in
        *"$2"*) fail "expected $1 not to contain '$2'; it was:
$hay" ;;
    esac
}

expect_eq() { # GOT WANT WHAT
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
