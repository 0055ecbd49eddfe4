#!/usr/bin/env bash
# Builds: a second build runs nothing and prints the same path; a failing builder's log is
# shown and nothing is registered; references are found by scanning; inputs are checked.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

mkdir -p tools/bin
printf '#!/bin/sh\necho tool-output\n' > tools/bin/mytool
chmod +x tools/bin/mytool
tools=$(fl store add tools)
echo data > data.txt
data=$(fl store add data.txt)

# The builder counts its runs in a file outside the store, so a rebuild would show.
script='/bin/mkdir $out $out/bin; echo ran >> '"$work"'/runs; mytool > $out/out.txt
echo "$PATH" > '"$work"'/path; echo "$GREETING" > $out/greeting; echo '"$data"' > $out/uses-data
printf "#!/bin/sh\ncat $out/out.txt\n" > $out/bin/hello; /bin/chmod +x $out/bin/hello'
build() {
    fl store build --name hello --builder /bin/sh --arg -c --arg "$script" \
        --env GREETING=hi --input "$tools" --input "$data" "$@"
}
out=$(build --out-link result)
[ "$(cat "$work/runs")" = ran ] || fail "builder did not run once"
[ "$(cat "$out/out.txt")" = tool-output ] || fail "PATH did not hold the input's bin"
[ "$(cat "$work/path")" = "$tools/bin" ] || fail "PATH is $(cat "$work/path")"
[ "$(cat "$out/greeting")" = hi ] || fail "drv env not passed"
[ "$(readlink result)" = "$out" ] || fail "--out-link not made"
[ "$(stat -c %Y "$out/bin/hello")" = 1 ] && [ "$(stat -c %a "$out/bin/hello")" = 555 ] ||
    fail "output not normalized"
echo "ok: built $out"

out2=$(build)
[ "$out2" = "$out" ] || fail "second build printed $out2"
[ "$(wc -l < "$work/runs")" = 1 ] || fail "second build ran the builder again"
echo "ok: second build rebuilt nothing"

# References: data (named in a file) and itself (bin/hello names $out); tools was only used
# (in PATH), so it is not one.
info=$(fl store path-info "$out")
echo "$info" | grep -q "references:.*$data" || fail "data not a reference: $info"
echo "$info" | grep -q "references:.*$out" || fail "self not a reference: $info"
if echo "$info" | grep -q "references:.*$tools"; then fail "tools wrongly a reference"; fi
echo "$info" | grep -q "deriver: $state/store/.*-hello.drv" || fail "no deriver: $info"
fl store path-info --closure "$out" | grep -q "^$data" || fail "closure lacks data"
echo "ok: references and deriver"

# A failing builder: its log tail in the error, nothing registered, no output left.
if fl store build --name broken --builder /bin/sh --arg -c \
    --arg 'echo compiling step 1; echo "error: it broke" >&2; /bin/mkdir $out; exit 42' 2> err; then
    fail "failing build succeeded"
fi
grep -q "failed with exit code 42" err || fail "no exit code: $(cat err)"
grep -q "error: it broke" err || fail "log tail not shown: $(cat err)"
grep -q "compiling step 1" err || fail "log tail not shown: $(cat err)"
if ls "$state/store" | grep -v '\.drv$' | grep -q -- '-broken$'; then fail "output left behind"; fi
for e in "$state"/db/*.json; do
    if grep -q -- '-broken"' "$e"; then fail "the failed output was registered"; fi
done
fl store verify > /dev/null || fail "store does not verify after a failed build"
echo "ok: failed build shows its log and registers nothing"

# A builder that succeeds without creating $out, and bad derivations.
if fl store build --name lazy --builder /bin/sh --arg -c --arg true 2> err; then fail "no \$out accepted"; fi
grep -q 'did not create $out' err || fail "unclear: $(cat err)"
if fl store build --name x --builder /bin/sh --input "$work/data.txt" 2> err; then fail "bad input"; fi
grep -q "is not valid" err || fail "unclear: $(cat err)"
rc=0; fl store build --name x 2> err || rc=$?
[ "$rc" = 2 ] && grep -q "needs --builder B" err || fail "a missing required option: exit $rc, $(cat err)"
if fl store build --name x --builder sh 2> err; then fail "relative builder accepted"; fi
grep -q "not an absolute path" err || fail "unclear: $(cat err)"
if fl store build --name 'a/b' --builder /bin/sh 2> err; then fail "bad name accepted"; fi
grep -q "invalid store path name" err || fail "unclear: $(cat err)"
if fl store build --name x --builder /nonexistent/builder 2> err; then fail "missing builder"; fi
grep -q "cannot execute the builder" err || fail "unclear: $(cat err)"
echo "ok: bad derivations refused clearly"

# Concurrency: four processes building the same new derivation run its builder once and all
# print the same path; four adding the same new tree all print the same path.
conc='/bin/mkdir $out; echo x >> '"$work"'/conc-runs; /bin/sleep 0.3; echo done > $out/r'
for i in 1 2 3 4; do
    fl store build --name conc --builder /bin/sh --arg -c --arg "$conc" > "conc.$i" &
done
wait
[ "$(wc -l < "$work/conc-runs")" = 1 ] || fail "the builder ran $(wc -l < "$work/conc-runs") times"
[ "$(sort -u conc.? | wc -l)" = 1 ] || fail "different paths: $(cat conc.?)"
mkdir ctree && for i in $(seq 1 200); do echo "$i" > "ctree/$i"; done
for i in 1 2 3 4; do fl store add ctree > "cadd.$i" & done
wait
[ "$(sort -u cadd.? | wc -l)" = 1 ] || fail "different paths: $(cat cadd.?)"
fl store verify --check-contents > /dev/null || fail "store inconsistent after concurrent adds"
echo "ok: concurrent builds and adds of the same path"

# --help everywhere.
for c in "store --help" "store add --help" "store build --help" "gc --help"; do
    "$FLAKECTL" $c | grep -q "usage: flakectl" || fail "$c"
done
if "$FLAKECTL" store frobnicate 2> err; then fail "unknown subcommand accepted"; fi
grep -q "unknown store subcommand" err || fail "unclear: $(cat err)"
echo "ok: help and usage errors"
