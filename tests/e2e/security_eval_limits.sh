#!/usr/bin/env bash
# security_eval_limits.sh - hostile expressions (issue 20, smaller findings): out of memory
# is a located evaluation error, never SIGABRT (readFile /dev/zero, a 2 GiB string, 600k
# chained +, under FLAKECTL_MAX_MEMORY and under ulimit -v); 100k nested unary minus answers
# at once; integer overflow wraps as in Nix 2.8 (nix-instantiate is the oracle).
set -uo pipefail
: "${FLAKECTL:?}"
source "$(dirname "$0")/lib/nix.bash"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# located CASE RC_FILE ERR_FILE: exit 1 (not a signal) and an error with a location.
located() {
    local rc=$1 err=$2 what=$3
    [ "$rc" = 1 ] || { head -c 2000 "$err" >&2; fail "$what: exit status $rc (134 is SIGABRT)"; }
    grep -q "out of memory\|nested too deeply\|stack overflow" "$err" || { head -c 2000 "$err" >&2; fail "$what: not a memory error"; }
    grep -qE "at («string»|$T/[a-z.]+):[0-9]+:[0-9]+" "$err" || { head -c 2000 "$err" >&2; fail "$what: no location"; }
}

ev() { timeout 120 "$FLAKECTL" eval "$@" >"$T/out" 2>"$T/err"; }

FLAKECTL_MAX_MEMORY=512M ev --expr 'builtins.stringLength (builtins.readFile /dev/zero)'
located $? "$T/err" "readFile /dev/zero"
grep -q "at «string»:1:24" "$T/err" || fail "readFile /dev/zero is not located at the readFile"

big='let d = s: s + s; f = n: s: if n == 0 then s else f (n - 1) (d s); in builtins.stringLength (f 31 "a")'
FLAKECTL_MAX_MEMORY=256M ev --expr "$big"
located $? "$T/err" "a 2 GiB string under FLAKECTL_MAX_MEMORY"
# No limit of ours, the system's instead: the refusal is the same error. (A sanitizer build
# reserves terabytes of shadow memory and cannot start under ulimit -v at all.)
if (ulimit -v 1500000; "$FLAKECTL" eval --expr 1 >/dev/null 2>&1); then
    (ulimit -v 1500000; FLAKECTL_MAX_MEMORY=none ev --expr "$big")
    located $? "$T/err" "a 2 GiB string under ulimit -v"
    (ulimit -v 1500000; FLAKECTL_MAX_MEMORY=none ev --expr 'builtins.stringLength (builtins.readFile /dev/zero)')
    located $? "$T/err" "readFile /dev/zero under ulimit -v"
else
    echo "note: this build cannot run under ulimit -v (a sanitizer build); those two cases skipped"
fi
FLAKECTL_MAX_MEMORY=64M ev --expr 'builtins.length (builtins.genList (x: [ x x x ]) 10000000)'
located $? "$T/err" "a long list"
grep -q "hint: set FLAKECTL_MAX_MEMORY" "$T/err" || fail "the error does not say how to raise the limit"
# Within the limit nothing changes.
FLAKECTL_MAX_MEMORY=64M ev --expr 'builtins.length (builtins.genList (x: x) 1000)' && [ "$(cat "$T/out")" = 1000 ] ||
    fail "a small evaluation under a limit"

python3 -c "print('1' + ' + 1' * 600000)" >"$T/plus.nix"
FLAKECTL_MAX_MEMORY=256M ev --file "$T/plus.nix"
located $? "$T/err" "600k chained +"

# 100k nested unary minus: was 8 s (quadratic path matching in the lexer).
python3 -c "print('-' * 100000 + '1')" >"$T/neg.nix"
start=$(date +%s%N)
ev --file "$T/neg.nix" || { head -c 500 "$T/err" >&2; fail "100k unary minus"; }
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(cat "$T/out")" = 1 ] || fail "100k unary minus gives $(cat "$T/out")"
[ "$ms" -lt 3000 ] || fail "100k unary minus took $ms ms"

# Overflow wraps, as Nix 2.8 answers.
for e in '9223372036854775807 + 1' '9223372036854775807 * 2' '(-9223372036854775807) - 2'; do
    ours=$("$FLAKECTL" eval --expr "$e" 2>&1)
    if have_nix; then
        want=$(nixo nix-instantiate --eval --expr "$e" 2>&1)
    else
        want=$(python3 -c "import sys; x=eval(sys.argv[1]); x=(x+2**63)%2**64-2**63; print(x)" "$e")
    fi
    [ "$ours" = "$want" ] || fail "$e: flakectl $ours, Nix $want"
done
echo "ok: located memory errors in ${ms} ms for 100k unary minus"
