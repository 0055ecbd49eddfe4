#!/usr/bin/env bash
# edit and rekey with the recipients of the flake's secrets/secrets.nix: edit encrypts to the
# file's publicKeys and records them in secrets/.recipients.json; rekey without files
# re-encrypts exactly the files whose recipients changed; if one file it would touch cannot
# be decrypted it changes none. age checks every result.
set -euo pipefail
: "${FLAKECTL:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME=$T/cache TMPDIR=$T/tmp XDG_RUNTIME_DIR=
mkdir -p "$TMPDIR"
fail() { echo "FAIL: $*" >&2; exit 1; }
F=$T/flake
mkdir -p "$F/secrets"
echo '{ outputs = { self, ... }: { hosts = { }; }; }' >"$F/flake.nix"
for k in a b c; do age-keygen -o "$T/$k.txt" 2>/dev/null; done
A=$(age-keygen -y "$T/a.txt"); B=$(age-keygen -y "$T/b.txt"); C=$(age-keygen -y "$T/c.txt")
ssh-keygen -q -t ed25519 -N '' -C 'host@example' -f "$T/host"
H=$(cat "$T/host.pub")
rules() { # rules X_KEYS Y_KEYS Z_KEYS (nix list bodies)
    cat >"$F/secrets/secrets.nix" <<NIX
let a = "$A"; b = "$B"; c = "$C"; host = "$H"; in
{
  "x.age".publicKeys = [ $1 ];
  "y.age".publicKeys = [ $2 ];
  "sub/z.age".publicKeys = [ $3 ];
}
NIX
}
rules "a" "a host" "a b"
cd "$F"
EDITOR="printf 'x-plain\n' >" "$FLAKECTL" secret edit -i "$T/a.txt" secrets/x.age 2>"$T/msg" || { cat "$T/msg"; fail "edit x"; }
[ "$(age -d -i "$T/a.txt" secrets/x.age)" = x-plain ] || fail "a cannot read x"
! age -d -i "$T/b.txt" secrets/x.age >/dev/null 2>&1 || fail "b can read x"
# From inside secrets/: the file is found relative to secrets.nix all the same.
(cd secrets && EDITOR="printf 'y-plain\n' >" "$FLAKECTL" secret edit -i "$T/a.txt" y.age 2>"$T/msg") || { cat "$T/msg"; fail "edit y"; }
[ "$(age -d -i "$T/host" secrets/y.age)" = y-plain ] || fail "the ssh host key cannot read y"
mkdir -p secrets/sub
EDITOR="printf 'z-plain\n' >" "$FLAKECTL" secret edit -i "$T/a.txt" secrets/sub/z.age 2>/dev/null
[ "$(age -d -i "$T/b.txt" secrets/sub/z.age)" = z-plain ] || fail "b cannot read z"
grep -qF "\"sub/z.age\"" secrets/.recipients.json || fail "record lacks z: $(cat secrets/.recipients.json)"
grep -qF "$(echo "$H" | cut -d' ' -f1,2)\"" secrets/.recipients.json || fail "ssh key recorded with its comment"

# A file secrets.nix does not list: refused, naming it.
set +e
EDITOR=true "$FLAKECTL" secret edit -i "$T/a.txt" secrets/w.age 2>"$T/msg"; rc=$?
set -e
[ $rc = 1 ] && grep -qF 'no publicKeys for "w.age"' "$T/msg" || fail "unlisted file: $rc $(cat "$T/msg")"

# Nothing changed in secrets.nix: rekey touches nothing.
cp -a secrets "$T/snap1"
"$FLAKECTL" secret rekey -i "$T/a.txt" 2>"$T/msg"
grep -q 'nothing to re-encrypt' "$T/msg" || fail "rekey with no change: $(cat "$T/msg")"
diff -r secrets "$T/snap1" >/dev/null || fail "rekey with no change rewrote something"

# b added to x only: exactly x is re-encrypted; b can read it now.
rules "a b" "a host" "a b"
"$FLAKECTL" secret rekey -i "$T/a.txt" 2>"$T/msg"
cat "$T/msg" >&2
grep -q 're-encrypted .*secrets/x.age' "$T/msg" || fail "x not re-encrypted"
[ "$(grep -c 're-encrypted' "$T/msg")" = 1 ] || fail "more than x re-encrypted"
cmp -s secrets/y.age "$T/snap1/y.age" && cmp -s secrets/sub/z.age "$T/snap1/sub/z.age" || fail "unchanged files rewritten"
[ "$(age -d -i "$T/b.txt" secrets/x.age)" = x-plain ] || fail "b cannot read x after rekey"

# c added to x and z, but z (rewritten to b only) cannot be read with the identity given:
# nothing changes at all, x included, and the record stays as it was.
printf 'z2\n' | age -r "$B" -o secrets/sub/z.age
rules "a b c" "a host" "a b c"
cp -a secrets "$T/snap2"
set +e
"$FLAKECTL" secret rekey -i "$T/a.txt" 2>"$T/msg"; rc=$?
set -e
cat "$T/msg" >&2
[ $rc = 1 ] || fail "rekey with an undecryptable file exit $rc"
grep -q 'z.age' "$T/msg" || fail "error does not name z.age"
diff -r secrets "$T/snap2" >&2 || fail "a failed rekey changed something"
# With an identity for each, both go through.
"$FLAKECTL" secret rekey -i "$T/a.txt" -i "$T/b.txt" 2>"$T/msg"
[ "$(age -d -i "$T/c.txt" secrets/x.age)" = x-plain ] || fail "c cannot read x"
[ "$(age -d -i "$T/c.txt" secrets/sub/z.age)" = z2 ] || fail "c cannot read z"
cmp -s secrets/y.age "$T/snap2/y.age" || fail "y rewritten though its recipients did not change"

# A named file is re-encrypted even when its recipients did not change.
cp secrets/y.age "$T/y.before"
"$FLAKECTL" secret rekey -i "$T/a.txt" secrets/y.age 2>/dev/null
! cmp -s secrets/y.age "$T/y.before" || fail "named file not re-encrypted"
[ "$(age -d -i "$T/host" secrets/y.age)" = y-plain ] || fail "y after named rekey"
echo ok
