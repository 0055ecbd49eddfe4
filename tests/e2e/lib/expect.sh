# expect.sh - small assertion helpers for the end-to-end tests (sourced).
# Every helper prints what was expected and what came, then exits 1.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"; }
# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() { case "$3" in *"$2"*) ;; *) fail "$1: expected to contain [$2], got [$3]";; esac; }
expect_not_contains() { case "$3" in *"$2"*) fail "$1: expected not to contain [$2], got [$3]";; *) ;; esac; }
# run_fl: runs $FLAKECTL, capturing stdout in $out, stderr in $err, exit status in $rc.
run_fl() {
  local o e
  o=$(mktemp) e=$(mktemp)
  rc=0
  "$FLAKECTL" "$@" >"$o" 2>"$e" || rc=$?
  out=$(cat "$o") err=$(cat "$e")
  rm -f "$o" "$e"
}
: "${FLAKECTL:?FLAKECTL must point at the flakectl binary}"
: "${FLAKECTL_SRC:?FLAKECTL_SRC must point at the source tree}"
