#!/usr/bin/env bash
# gc deletes exactly the unreachable paths: roots are profile links, gcroots/ (with indirect
# --out-link roots) and <root>/run/flakectl/current; --dry-run deletes nothing;
# --older-than spares young paths.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
root="$work/root"
fl() { "$FLAKECTL" --state-dir "$state" --root "$root" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

mk() { # NAME [INPUT]: a build whose output names INPUT (so it references it)
    local extra=()
    [ -n "${2:-}" ] && extra=(--input "$2")
    fl store build --name "$1" --builder /bin/sh --arg -c --arg "echo ${2:-none} > \$out" "${extra[@]}"
}
echo leaf > leaf
leaf=$(fl store add leaf)
prof=$(mk prof "$leaf")           # profile generation -> prof -> leaf
mkdir -p "$state/profiles" && ln -s "$prof" "$state/profiles/system-1-link"
res=$(mk res)                     # indirect root through an --out-link
fl store build --name res --builder /bin/sh --arg -c --arg "echo none > \$out" --out-link "$work/result" > /dev/null
cur=$(mk cur)                     # the running generation
mkdir -p "$root/run/flakectl" && ln -s "$cur" "$root/run/flakectl/current"
direct=$(mk direct)               # a plain gcroots/ symlink
mkdir -p "$state/gcroots" && ln -s "$direct" "$state/gcroots/pinned"
dead1=$(mk dead1)
dead2=$(mk dead2 "$dead1")        # unreachable chain: dead2 -> dead1
mkdir "$state/store/.tmp-leftover"

fl gc --dry-run > report
grep -q "would delete $dead1" report && grep -q "would delete $dead2" report || fail "$(cat report)"
grep -q "would free" report || fail "no summary"
for p in "$dead1" "$dead2" "$leaf" "$prof" "$res" "$cur" "$direct"; do
    [ -e "$p" ] || fail "--dry-run deleted $p"
done
echo "ok: --dry-run deletes nothing"

fl gc --older-than 1h > report
grep -Eq "kept [0-9]+ unreachable" report || fail "--older-than: $(cat report)"
[ -e "$dead1" ] && [ -e "$dead2" ] || fail "--older-than 1h deleted a young path"
echo "ok: --older-than spares young paths"

fl gc > report
grep -Eq "freed [0-9]+ store paths, [0-9]+ bytes" report || fail "no summary: $(cat report)"
for p in "$dead1" "$dead2"; do [ ! -e "$p" ] || fail "$p survived"; done
[ ! -e "$state/store/.tmp-leftover" ] || fail "leftover survived"
for p in "$leaf" "$prof" "$res" "$cur" "$direct"; do [ -e "$p" ] || fail "gc deleted live $p"; done
fl store query-valid "$leaf" "$prof" "$res" "$cur" "$direct" | wc -l | grep -qx 5 || fail "validity"
# a deleted path: the valid ones are still listed, the status says one is missing (exit 1)
rc=0; fl store query-valid "$leaf" "$dead1" > valid 2> qerr || rc=$?
[ "$rc" = 1 ] || fail "query-valid with a deleted path exited $rc, not 1"
[ "$(cat valid)" = "$leaf" ] || fail "query-valid listed: $(cat valid)"
[ ! -s qerr ] || fail "query-valid said something on stderr: $(cat qerr)"
fl store verify --check-contents > /dev/null || fail "store inconsistent after gc"
echo "ok: gc deleted exactly the unreachable paths"

# A path a running process uses (its working directory here) is not deleted.
inuse=$(fl store build --name inuse --builder /bin/sh --arg -c --arg '/bin/mkdir $out')
(cd "$inuse" && exec sleep 60) &
sleeper=$!
sleep 0.2
fl gc > report
[ -e "$inuse" ] || fail "gc deleted a path in use: $(cat report)"
kill "$sleeper"; wait "$sleeper" 2>/dev/null || true
fl gc > report
[ ! -e "$inuse" ] || fail "$inuse survived once no longer in use"
echo "ok: paths in use by running processes are kept"

# Removing the --out-link makes its target garbage; dropping the profile frees its closure.
rm "$work/result" "$state/profiles/system-1-link"
fl gc > report
for p in "$res" "$prof" "$leaf"; do [ ! -e "$p" ] || fail "$p survived without its root"; done
[ -e "$cur" ] && [ -e "$direct" ] || fail "gc deleted live paths"
if fl gc --older-than soon 2> err; then fail "bad duration accepted"; fi
grep -q "not a duration" err || fail "unclear: $(cat err)"
echo "ok: roots removed, their closures collected"
