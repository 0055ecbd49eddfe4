#!/usr/bin/env bash
# flakectl secret against the real age and age-keygen, both directions: X25519 and
# ssh-ed25519 recipients, several at once, binary and armored, empty, one byte, exactly
# 64 KiB and multi-chunk (200 KiB + 1) files.
set -euo pipefail
: "${FLAKECTL:?}"
command -v age >/dev/null && command -v age-keygen >/dev/null && command -v ssh-keygen >/dev/null \
  || { echo "FAIL: age, age-keygen and ssh-keygen are required"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

age-keygen -o a1.txt 2>/dev/null
age-keygen -o a2.txt 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -C s1 -f s1
ssh-keygen -q -t ed25519 -N '' -C s2 -f s2
"$FLAKECTL" secret keygen -o f1.txt 2>/dev/null
A1=$(age-keygen -y a1.txt)
A2=$(age-keygen -y a2.txt)
F1=$(age-keygen -y f1.txt) # age reads flakectl's key file

# The recipient of a key is the same whoever derives it.
[ "$("$FLAKECTL" secret keygen -y a1.txt)" = "$A1" ] || { echo "FAIL: keygen -y differs from age-keygen -y"; exit 1; }
[ "$("$FLAKECTL" secret keygen -y s1)" = "$(cut -d' ' -f1,2 s1.pub)" ] || { echo "FAIL: keygen -y of an ssh key"; exit 1; }

: > empty
printf x > one
head -c 65536 /dev/urandom > full64k
head -c $((200 * 1024 + 1)) /dev/urandom > multi

checks=0
check() { # label, command producing plaintext on stdout, expected file
  local label=$1 want=$2
  shift 2
  if ! "$@" > got 2> err || ! cmp -s got "$want"; then
    echo "FAIL: $label"
    cat err
    exit 1
  fi
  checks=$((checks + 1))
}

for f in empty one full64k multi; do
  for armor in "" "-a"; do
    tag="$f${armor:+ armored}"
    # flakectl encrypts to four recipients of both kinds; each reader opens it.
    "$FLAKECTL" secret encrypt $armor -r "$A1" -r "$F1" -R s1.pub -r "$(cat s2.pub)" -o "$f.fl.age" "$f"
    if [ -n "$armor" ]; then
      head -1 "$f.fl.age" | grep -qx -- '-----BEGIN AGE ENCRYPTED FILE-----' || { echo "FAIL: $tag not armored"; exit 1; }
    fi
    check "age -d (X25519) of flakectl's $tag" "$f" age -d -i a1.txt "$f.fl.age"
    check "age -d (ssh-ed25519) of flakectl's $tag" "$f" age -d -i s1 "$f.fl.age"
    check "age -d (2nd ssh key) of flakectl's $tag" "$f" age -d -i s2 "$f.fl.age"
    check "age -d (flakectl key) of flakectl's $tag" "$f" age -d -i f1.txt "$f.fl.age"
    check "flakectl decrypt of its own $tag" "$f" "$FLAKECTL" secret decrypt -i f1.txt "$f.fl.age"

    # age encrypts; flakectl opens it with each kind of key.
    age $armor -r "$A1" -r "$A2" -R s1.pub -r "$F1" -o "$f.age.age" "$f"
    check "flakectl decrypt (X25519) of age's $tag" "$f" "$FLAKECTL" secret decrypt -i a1.txt "$f.age.age"
    check "flakectl decrypt (2nd X25519) of age's $tag" "$f" "$FLAKECTL" secret decrypt -i a2.txt "$f.age.age"
    check "flakectl decrypt (ssh-ed25519) of age's $tag" "$f" "$FLAKECTL" secret decrypt -i s1 "$f.age.age"
    check "flakectl decrypt (own key) of age's $tag" "$f" "$FLAKECTL" secret decrypt -i f1.txt "$f.age.age"
    "$FLAKECTL" secret decrypt -i s1 -i a2.txt -o "$f.out" "$f.age.age"
    cmp -s "$f.out" "$f" || { echo "FAIL: -o output of $tag"; exit 1; }
    checks=$((checks + 1))
  done
done

# Through pipes, as age is used.
head -c 300000 /dev/urandom > piped
"$FLAKECTL" secret encrypt -r "$A1" < piped | age -d -i a1.txt | cmp -s - piped || { echo "FAIL: pipe flakectl|age"; exit 1; }
age -r "$F1" < piped | "$FLAKECTL" secret decrypt -i f1.txt | cmp -s - piped || { echo "FAIL: pipe age|flakectl"; exit 1; }
checks=$((checks + 2))
echo "ok: $checks interop checks passed"
