#!/usr/bin/env bash
# flakectl eval as a user sees it: values on stdout, errors on stderr with file:line:col,
# exit codes; and, when nix-instantiate is installed, the same bytes as nix-instantiate.
set -uo pipefail
source "$(dirname "$0")/lib/nix.bash"
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail=0
check() { # name, expected, actual
    if [ "$2" != "$3" ]; then
        echo "FAIL $1"
        echo "  expected: $2"
        echo "  actual:   $3"
        fail=1
    fi
}

cat >lib.nix <<'NIX'
{
  double = x: x * 2;
  greet = name: "hello ${name}";
}
NIX
cat >main.nix <<'NIX'
let
  lib = import ./lib.nix;
in
{
  port = lib.double 40;
  msg = lib.greet "world";
  list = [ 1 2.5 null true ];
}
NIX
cat >bad.nix <<'NIX'
let
  lib = import ./lib.nix;
in
{
  port = lib.double "80";
}
NIX
mkdir dir
echo '{ x = 1; }' >dir/default.nix

check "strict file" '{ list = [ 1 2.5 null true ]; msg = "hello world"; port = 80; }' \
    "$("$FLAKECTL" eval --strict --file main.nix)"
check "lazy file" '{ list = <CODE>; msg = <CODE>; port = <CODE>; }' \
    "$("$FLAKECTL" eval --file main.nix)"
check "json" '{"list":[1,2.5,null,true],"msg":"hello world","port":80}' \
    "$("$FLAKECTL" eval --json --strict --file main.nix)"
check "directory" '{ x = 1; }' "$("$FLAKECTL" eval --strict --file dir)"
check "expr" '[ 3 "ab" ]' "$("$FLAKECTL" eval --strict --expr '[ (1 + 2) ("a" + "b") ]')"

# errors: nothing on stdout, "error:" first on stderr, the culprit's location, exit 1
out=$("$FLAKECTL" eval --strict --file bad.nix 2>err)
rc=$?
check "error exit status" 1 "$rc"
check "error stdout empty" "" "$out"
check "error first line" "error: value is a string while an integer was expected" "$(head -1 err)"
grep -q "^       at $work/lib.nix:2:15:$" err || { echo "FAIL error location"; cat err; fail=1; }
grep -q "while evaluating" err && { echo "FAIL frames shown without --show-trace"; fail=1; }
# --show-trace: nix-instantiate 2.8's layout (tests/lang/trace_differential.py compares it)
"$FLAKECTL" --show-trace eval --strict --file bad.nix 2>err >/dev/null
grep -A2 -x "       … from call site" err | grep -qx "       at $work/bad.nix:5:10:" ||
    { echo "FAIL --show-trace frame"; cat err; fail=1; }
grep -qx "       … while evaluating 'double'" err || { echo "FAIL --show-trace lambda frame"; cat err; fail=1; }

"$FLAKECTL" eval --expr '{ enable = true; }.enabel' 2>err >/dev/null
grep -q "hint: Did you mean enable?" err || { echo "FAIL did you mean"; cat err; fail=1; }
"$FLAKECTL" eval --expr 'let f = x: f x; in f 1' 2>err >/dev/null
check "stack overflow" "error: stack overflow (possible infinite recursion)" "$(head -1 err)"
"$FLAKECTL" eval --file missing.nix 2>err >/dev/null
check "missing file status" 1 "$?"
grep -q "missing.nix" err || { echo "FAIL missing file not named"; cat err; fail=1; }
"$FLAKECTL" eval --expr '1' --file main.nix 2>/dev/null
check "usage error" 2 "$?"

# the oracle, when installed: identical bytes
if have_nix; then
    while IFS= read -r e; do
        a=$(nixo nix-instantiate --eval --strict -E "$e")
        b=$("$FLAKECTL" eval --strict --expr "$e" 2>/dev/null)
        check "oracle: $e" "$a" "$b"
    done <<'CASES'
let x = [ 1 2 ]; in [ x x (builtins.seq 0 x) ]
{ "a b" = 1; "if" = 2; then = 3; "$x" = 4; }
[ 1.0 0.1 1234567.0 1.0e-7 (1.0 / 3) ]
builtins.split "(a)|b" "xabc"
derivation { name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; }
''
  a
    ${"b"}
''
builtins.toJSON { a = [ 1.5 "q\"" ]; }
CASES
    a=$(nixo nix-instantiate --eval --strict main.nix)
    check "oracle: main.nix" "$a" "$("$FLAKECTL" eval --strict --file main.nix)"
fi
exit $fail
