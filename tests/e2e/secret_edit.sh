#!/usr/bin/env bash
# flakectl secret edit / rekey from the command line, with explicit recipients (-r/-R) until
# secrets/secrets.nix is wired in; the editor is a script; age checks the results.
set -euo pipefail
: "${FLAKECTL:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }
export TMPDIR=$T/tmp XDG_RUNTIME_DIR=
mkdir -p "$TMPDIR"

age-keygen -o a.txt 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f host
A=$(age-keygen -y a.txt)

# A new secret: the editor writes it; both keys can read it, age included.
EDITOR="printf 'token=abc\n' >" "$FLAKECTL" secret edit -r "$A" -R host.pub -i a.txt api.age 2> msg
grep -q 'saved' msg || fail "edit did not report saving: $(cat msg)"
[ "$(age -d -i host api.age)" = token=abc ] || fail "age cannot read the edited secret"
[ -z "$(ls -A "$TMPDIR")" ] || fail "edit left files in TMPDIR"

# No change: the file is not rewritten.
cp api.age api.before
EDITOR=true "$FLAKECTL" secret edit -r "$A" -R host.pub -i a.txt api.age 2> msg
grep -q unchanged msg || fail "unchanged edit message: $(cat msg)"
cmp -s api.age api.before || fail "an unchanged edit rewrote the file"

# The editor fails: nothing changes, the error says why.
set +e
EDITOR='sh -c "echo x >> \$0; exit 3"' "$FLAKECTL" secret edit -r "$A" -i a.txt api.age 2> msg
rc=$?
set -e
[ $rc = 1 ] || fail "failing editor: exit $rc"
grep -q 'exited with status 3' msg || fail "failing editor message: $(cat msg)"
cmp -s api.age api.before || fail "a failed edit changed the file"
[ -z "$(ls -A "$TMPDIR")" ] || fail "a failed edit left plaintext in TMPDIR"

# Without recipients the command says where they will come from.
set +e
EDITOR=true "$FLAKECTL" secret edit -i a.txt api.age 2> msg; rc=$?
set -e
[ $rc = 2 ] && grep -q 'secrets.nix' msg || fail "edit without recipients: $rc $(cat msg)"

# rekey: drop the age key, keep the host key; refused entirely if one file is unreadable.
printf 'other\n' | age -r "$A" -o other.age
age-keygen -o b.txt 2>/dev/null
printf 'b only\n' | age -r "$(age-keygen -y b.txt)" -o bonly.age
cp other.age other.before
set +e
"$FLAKECTL" secret rekey -R host.pub -i a.txt api.age other.age bonly.age 2> msg; rc=$?
set -e
[ $rc = 1 ] && grep -q 'bonly.age' msg && grep -q 'no file was changed' msg \
  || fail "rekey with an unreadable file: $rc $(cat msg)"
cmp -s api.age api.before && cmp -s other.age other.before || fail "a refused rekey changed files"
"$FLAKECTL" secret rekey -R host.pub -i a.txt api.age other.age 2> msg
[ "$(age -d -i host other.age)" = other ] || fail "rekeyed file unreadable by the new recipient"
if age -d -i a.txt other.age >/dev/null 2>&1; then fail "the dropped key still opens the file"; fi
ls -A | grep -q 'tmp-' && fail "rekey left temporaries"
echo ok
