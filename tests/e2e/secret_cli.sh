#!/usr/bin/env bash
# flakectl secret's command line: help, keygen's files and modes, usage errors.
set -euo pipefail
: "${FLAKECTL:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }

for sub in encrypt decrypt keygen edit rekey; do
  "$FLAKECTL" secret $sub --help > help.txt || fail "secret $sub --help exited non-zero"
  grep -q "usage: flakectl secret $sub" help.txt || fail "secret $sub --help has no usage line"
done
"$FLAKECTL" secret --help | grep -q encrypt || fail "secret --help lists no commands"
"$FLAKECTL" --help | grep -q '^  secret ' || fail "flakectl --help does not list secret"

# keygen: 0600 file, public key on stderr, never overwrites
umask 022
"$FLAKECTL" secret keygen -o key.txt 2> pub.txt
[ "$(stat -c %a key.txt)" = 600 ] || fail "key file mode is $(stat -c %a key.txt), want 600"
grep -q '^Public key: age1' pub.txt || fail "keygen printed no public key on stderr"
grep -q '^AGE-SECRET-KEY-1' key.txt || fail "no secret key in the key file"
grep -q "^# public key: $(sed 's/Public key: //' pub.txt)\$" key.txt || fail "key file comment"
cp key.txt before.txt
if "$FLAKECTL" secret keygen -o key.txt 2> err.txt; then fail "keygen overwrote a key"; fi
grep -q 'already exists' err.txt || fail "keygen overwrite error: $(cat err.txt)"
cmp -s key.txt before.txt || fail "keygen changed an existing key file"
# two keys differ
"$FLAKECTL" secret keygen -o key2.txt 2>/dev/null
[ "$(grep AGE-SECRET key.txt)" != "$(grep AGE-SECRET key2.txt)" ] || fail "keygen made the same key twice"

PUB=$("$FLAKECTL" secret keygen -y key.txt)
# usage errors exit 2
set +e
"$FLAKECTL" secret encrypt -o x.age /dev/null 2> err.txt; [ $? = 2 ] || fail "encrypt without recipients should exit 2"
grep -q 'no recipients' err.txt || fail "no-recipient message: $(cat err.txt)"
"$FLAKECTL" secret decrypt /dev/null 2> err.txt; [ $? = 2 ] || fail "decrypt without identities should exit 2"
grep -q 'no identities' err.txt || fail "no-identity message"
"$FLAKECTL" secret encrypt --bogus 2> err.txt; [ $? = 2 ] || fail "unknown option should exit 2"
"$FLAKECTL" secret frobnicate 2> err.txt; [ $? = 2 ] || fail "unknown subcommand should exit 2"
"$FLAKECTL" secret encrypt -r 2> err.txt; [ $? = 2 ] || fail "-r without value should exit 2"
set -e

# stdin to stdout, --long=value forms, -o replaces atomically
printf 'hello\n' | "$FLAKECTL" secret encrypt --recipient="$PUB" --armor > msg.age
head -1 msg.age | grep -qx -- '-----BEGIN AGE ENCRYPTED FILE-----' || fail "armored output"
[ "$("$FLAKECTL" secret decrypt --identity=key.txt < msg.age)" = hello ] || fail "stdin/stdout round trip"
"$FLAKECTL" secret decrypt -i key.txt -o plain.txt msg.age
[ "$(stat -c %a plain.txt)" = 600 ] || fail "decrypted file mode should be 600"
[ "$(cat plain.txt)" = hello ] || fail "-o output"
"$FLAKECTL" secret encrypt -r "$PUB" -o enc.age plain.txt
[ "$(stat -c %a enc.age)" = 644 ] || fail "encrypted file mode should follow the umask (644)"
ls -a | grep -q 'tmp-' && fail "temporary files left behind"
echo ok
