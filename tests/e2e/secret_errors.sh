#!/usr/bin/env bash
# Bad input to flakectl secret: truncation, flipped bytes, wrong keys, unknown stanzas, a bad
# header MAC, trailing data, an empty final chunk, unsupported keys. Each must fail with an
# error naming the file (or key) and leave no plaintext: no -o output, no temporary files,
# and on stdout nothing beyond whole authenticated chunks.
set -euo pipefail
: "${FLAKECTL:?}" "${FLAKECTL_SHARED:?}"
source "$(dirname "$0")/lib/bytes.bash"
V=$FLAKECTL_SHARED/testvectors/age
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }

# expect_fail <pattern> <file shown in the error> <args...>: exit 1, message matches, no out
expect_fail() {
  local pattern=$1 name=$2
  shift 2
  rm -f out
  set +e
  "$FLAKECTL" secret "$@" > stdout.txt 2> err.txt
  local rc=$?
  set -e
  [ $rc = 1 ] || fail "'$*' exited $rc, want 1 ($(cat err.txt))"
  grep -q -- "$pattern" err.txt || fail "'$*': error does not say '$pattern': $(cat err.txt)"
  grep -qF -- "$name" err.txt || fail "'$*': error does not name $name: $(cat err.txt)"
  [ ! -e out ] || fail "'$*' left an output file"
  if ls -a | grep -q 'tmp-'; then fail "'$*' left a temporary file"; fi
}

"$FLAKECTL" secret keygen -o k.txt 2>/dev/null
"$FLAKECTL" secret keygen -o other.txt 2>/dev/null
PUB=$("$FLAKECTL" secret keygen -y k.txt)
head -c $((3 * 65536 + 500)) /dev/urandom > plain
"$FLAKECTL" secret encrypt -r "$PUB" -o good.age plain
size=$(stat -c %s good.age)
hdr=$(grep -a -b -m1 '^--- ' good.age | cut -d: -f1)   # offset of the MAC line

# Truncated at many offsets: in the header, in the nonce, in every chunk, at boundaries.
n=0
for cut in 0 1 10 21 22 50 $hdr $((hdr + 10)) $((hdr + 48)) $((hdr + 60)) $((hdr + 70)) \
           $((size - 65536 - 600)) $((size - 516)) $((size - 517)) $((size - 1)) \
           $(seq 200 7919 $size); do
  [ $cut -lt $size ] || continue
  head -c $cut good.age > trunc.age
  expect_fail 'trunc\|not an age file\|does not authenticate' trunc.age decrypt -i k.txt -o out trunc.age
  n=$((n + 1))
done
echo "ok: $n truncations refused"

# A flipped byte: version line, stanza, MAC, nonce, first chunk, last chunk's tag.
flip() { # offset -> flipped.age
  cp good.age flipped.age
  flip_byte flipped.age "$1" 4
}
for off in 0 5 25 40 $((hdr - 2)) $((hdr + 5)) $((hdr + 30)) $((hdr + 48)) $((hdr + 60)) \
           $((hdr + 80)) $((hdr + 40000)) $((size - 400)) $((size - 17)) $((size - 1)); do
  flip $off
  expect_fail 'none of the identities\|MAC\|authenticate\|malformed\|not an age file\|base64\|neither\|stanza' flipped.age \
    decrypt -i k.txt -o out flipped.age
done
echo "ok: flipped bytes refused"

# On stdout only whole authenticated chunks appear, and the exit status says it failed.
flip $((size - 1))
set +e
"$FLAKECTL" secret decrypt -i k.txt flipped.age > partial 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || fail "stdout decryption of a damaged file exited $rc"
psize=$(stat -c %s partial)
[ $((psize % 65536)) = 0 ] && [ $psize -lt $(stat -c %s plain) ] || fail "stdout got $psize bytes"
cmp -s partial <(head -c $psize plain) || fail "stdout got bytes that are not the plaintext"

# An existing output stays as it was when decryption fails.
echo previous > kept
flip $((size - 1))
expect_fail 'authenticate' flipped.age decrypt -i k.txt -o kept flipped.age
[ "$(cat kept)" = previous ] || fail "a failed decryption changed the existing output"

# Trailing data after the final chunk: after a short one it spoils that chunk, after a full
# one it is reported as such.
cp good.age trailing.age
printf 'x' >> trailing.age
expect_fail 'does not authenticate' trailing.age decrypt -i k.txt -o out trailing.age
head -c $((2 * 65536)) plain > even
"$FLAKECTL" secret encrypt -r "$PUB" -o even.age even
printf 'x' >> even.age
expect_fail 'after the final chunk' even.age decrypt -i k.txt -o out even.age

# The wrong key names the file and the key that was tried.
expect_fail 'none of the identities' good.age decrypt -i other.txt -o out good.age
grep -q 'other.txt' err.txt || fail "wrong-key error does not name the identity file"

# Vectors run through the command line: the identity and the age file are split apart.
from_vector() { # name -> $1.age and $1.key
  local f=$V/$1
  grep -a -m1 '^identity: ' "$f" | sed 's/^identity: //' > "$1.key" || true
  sed -n '/^$/,$p' "$f" | tail -n +2 > "$1.age"
}
from_vector x25519_grease          # unknown stanzas next to ours: skipped
"$FLAKECTL" secret decrypt -i x25519_grease.key -o out x25519_grease.age || fail "grease stanza not skipped"
rm -f out
from_vector stanza_valid_characters
"$FLAKECTL" secret decrypt -i stanza_valid_characters.key -o out stanza_valid_characters.age \
  || fail "unknown stanza types not skipped"
rm -f out
from_vector x25519_lowercase       # only an unknown stanza: nothing can match
expect_fail 'none of the identities' x25519_lowercase.age decrypt -i x25519_lowercase.key -o out x25519_lowercase.age
from_vector hmac_bad
expect_fail 'header MAC' hmac_bad.age decrypt -i hmac_bad.key -o out hmac_bad.age
from_vector header_crlf            # a text conversion damaged it: said so
expect_fail 'CRLF line endings' header_crlf.age decrypt -i header_crlf.key -o out header_crlf.age
from_vector scrypt                 # passphrase files are refused clearly
"$FLAKECTL" secret keygen -o any.key 2>/dev/null
expect_fail 'passphrase-encrypted files are not supported' scrypt.age decrypt -i any.key -o out scrypt.age
# keygen -o into a directory that does not exist: an error naming it, as age-keygen's, and
# nothing created (a mistyped directory is not made by root with some mode)
expect_fail 'the directory nokeys/sub does not exist' nokeys/sub/k.txt keygen -o nokeys/sub/k.txt
grep -q 'mkdir -p -m 0700 nokeys/sub' err.txt || fail "keygen -o: no hint: $(cat err.txt)"
[ ! -e nokeys ] || fail "keygen -o created a directory"
from_vector armor_garbage_trailing
expect_fail 'armor' armor_garbage_trailing.age decrypt -i armor_garbage_trailing.key -o out armor_garbage_trailing.age
# Empty final chunk after a full one (the vector is zlib-compressed).
python3 - "$V/stream_last_chunk_empty" <<'PY'
import sys, zlib
raw = open(sys.argv[1], 'rb').read()
head, body = raw.split(b'\n\n', 1)
ident = [l[10:] for l in head.split(b'\n') if l.startswith(b'identity: ')][0]
open('lce.key', 'wb').write(ident + b'\n')
open('lce.age', 'wb').write(zlib.decompress(body))
PY
expect_fail 'final chunk is empty' lce.age decrypt -i lce.key -o out lce.age

# Unsupported keys are refused by name.
ssh-keygen -q -t rsa -b 2048 -N '' -f rsa
expect_fail 'RSA ssh keys are not supported' rsa.pub encrypt -R rsa.pub -o out plain
expect_fail 'RSA ssh keys are not supported' "recipient 'ssh-rsa" encrypt -r "$(cat rsa.pub)" -o out plain
expect_fail 'RSA ssh keys are not supported' rsa decrypt -i rsa -o out good.age
ssh-keygen -q -t ed25519 -N 'hunter2' -f locked
expect_fail 'passphrase-protected ssh keys are not supported' locked decrypt -i locked -o out good.age
ssh-keygen -q -t ecdsa -N '' -f ec
expect_fail 'ecdsa-sha2-nistp256 ssh keys are not supported' ec decrypt -i ec -o out good.age
printf '# comment\n\nage1notakey\n' > bad-recipients.txt
expect_fail 'bad-recipients.txt:3' bad-recipients.txt encrypt -R bad-recipients.txt -o out plain
expect_fail 'missing.txt' missing.txt decrypt -i missing.txt -o out good.age
expect_fail 'cannot open' nothere.age decrypt -i k.txt -o out nothere.age
echo ok
