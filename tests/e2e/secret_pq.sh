#!/usr/bin/env bash
# The post-quantum recipient on the command line: keygen -pq / --pq, -y, encrypting to
# age1pq1… keys (-r and -R, binary and armored, several recipients, multi-chunk), decrypting
# with AGE-SECRET-KEY-PQ-1… files, and the errors: wrong key, PQ mixed with classic keys,
# malformed recipients and identities naming their file and line. The age tool here (1.1.1)
# knows no age1pq1 keys, so interoperability is the C2SP vectors' job (test_vectors).
set -euo pipefail
: "${FLAKECTL:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }

umask 022
"$FLAKECTL" secret keygen -pq -o pq1.txt 2> pub1.txt
"$FLAKECTL" secret keygen --pq -o pq2.txt 2> /dev/null
[ "$(stat -c %a pq1.txt)" = 600 ] || fail "pq key file mode is $(stat -c %a pq1.txt)"
grep -q '^Public key: age1pq1' pub1.txt || fail "keygen -pq printed no age1pq1 key"
grep -q '^AGE-SECRET-KEY-PQ-1' pq1.txt || fail "no AGE-SECRET-KEY-PQ-1 line in the key file"
P1=$("$FLAKECTL" secret keygen -y pq1.txt)
[ "Public key: $P1" = "$(cat pub1.txt)" ] || fail "keygen -y disagrees with keygen's public key"
[ "${#P1}" -gt 1900 ] || fail "age1pq1 recipient is too short (${#P1})"
grep -q "^# public key: $P1\$" pq1.txt || fail "key file comment"
"$FLAKECTL" secret keygen -y pq2.txt > pq2.pub
set +e
"$FLAKECTL" secret keygen -pq -y pq1.txt 2> err.txt; [ $? = 2 ] || fail "-pq with -y should exit 2"
set -e

head -c 200001 /dev/urandom > big
printf 'pq secret\n' > small
: > empty
for f in big small empty; do
  for a in "" -a; do
    "$FLAKECTL" secret encrypt $a -r "$P1" -R pq2.pub -o "$f.age" "$f"
    if [ -n "$a" ]; then head -1 "$f.age" | grep -q 'BEGIN AGE' || fail "not armored"; fi
    grep -aq -- '-> mlkem768x25519 ' "$f.age" || [ -n "$a" ] || fail "no mlkem768x25519 stanza"
    "$FLAKECTL" secret decrypt -i pq1.txt -o "$f.1" "$f.age"
    "$FLAKECTL" secret decrypt -i pq2.txt < "$f.age" > "$f.2"
    cmp -s "$f" "$f.1" && cmp -s "$f" "$f.2" || fail "$f ($a) round trip"
  done
done

# A key file may hold several identities, PQ and classic together.
"$FLAKECTL" secret keygen -o x.txt 2>/dev/null
cat x.txt pq2.txt > both.txt
"$FLAKECTL" secret encrypt -R pq2.pub small | "$FLAKECTL" secret decrypt -i both.txt | cmp -s - small \
  || fail "mixed identity file"

set +e
# the wrong post-quantum key: no match, nothing written
"$FLAKECTL" secret encrypt -r "$P1" -o one.age small
"$FLAKECTL" secret decrypt -i pq2.txt -o out.txt one.age 2> err.txt; rc=$?
[ $rc = 1 ] || fail "wrong PQ key exit $rc"
grep -q 'none of the identities' err.txt || fail "wrong key message: $(cat err.txt)"
grep -q 'mlkem768x25519 key from pq2.txt' err.txt || fail "message does not name the key file"
[ ! -e out.txt ] || fail "output written on failure"
# a classic key cannot open it either
"$FLAKECTL" secret decrypt -i x.txt one.age > /dev/null 2> err.txt; [ $? = 1 ] || fail "X25519 key opened a PQ file"
grep -q '(mlkem768x25519)' err.txt || fail "hint does not list the stanza type: $(cat err.txt)"
# PQ and classic recipients are not mixed (age's rule)
"$FLAKECTL" secret encrypt -r "$P1" -r "$("$FLAKECTL" secret keygen -y x.txt)" -o mix.age small 2> err.txt
[ $? = 2 ] || fail "mixing PQ and classic recipients should exit 2"
grep -q 'both a post-quantum recipient' err.txt || fail "mix message: $(cat err.txt)"
[ ! -e mix.age ] || fail "mix wrote a file"
# a damaged recipient in a file: named by file and line
{ echo "# keys"; echo "${P1%?}q"; } > bad.pub
[ "${P1: -1}" != q ] || { echo "# keys"; echo "${P1%?}p"; } > bad.pub
"$FLAKECTL" secret encrypt -R bad.pub small > /dev/null 2> err.txt; [ $? = 1 ] || fail "bad recipient exit"
grep -q 'bad.pub:2' err.txt || fail "bad recipient not located: $(cat err.txt)"
# a truncated identity
sed 's/^\(AGE-SECRET-KEY-PQ-1.\{20\}\).*/\1/' pq1.txt > short.txt
"$FLAKECTL" secret decrypt -i short.txt one.age > /dev/null 2> err.txt; [ $? = 1 ] || fail "short identity exit"
grep -q 'short.txt:3' err.txt || fail "short identity not located: $(cat err.txt)"
grep -q 'AGE-SECRET-KEY-PQ-1' err.txt || fail "short identity message: $(cat err.txt)"
if grep -q "$(grep '^AGE-SECRET' pq1.txt)" err.txt; then fail "the error shows the secret key"; fi
# the age tool of this machine does not know the type (documented interop limit)
age -r "$P1" small > /dev/null 2>&1 && echo "note: this age knows age1pq1 recipients"
set -e
echo "secret_pq: ok"
