#!/usr/bin/env bash
# Secrets at activation with a post-quantum host identity: an AGE-SECRET-KEY-PQ-1… file at
# the default identity path decrypts a secret encrypted to its age1pq1… recipient into
# run/flakectl/secrets with the declared mode, and the plaintext is nowhere else; a secret
# encrypted to another PQ key stops the switch with nothing changed.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
export XDG_CACHE_HOME=$T/cache
base_etc
mkdir -p "$ROOT/etc/ssh"
"$FLAKECTL" secret keygen -pq -o "$ROOT/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$ROOT/etc/ssh/ssh_host_ed25519_key")
"$FLAKECTL" secret keygen -pq -o "$T/other.key" 2>/dev/null
otherpub=$("$FLAKECTL" secret keygen -y "$T/other.key")
P1="plain-pq-$RANDOM$RANDOM"
enc() {
    local p=$STORE/$(printf '%s' "$1$2$RANDOM" | sha256sum | cut -c1-32)-$1.age
    printf '%s' "$2" | "$FLAKECTL" secret encrypt -r "$3" -o "$p"
    chmod 0444 "$p"
    echo "$p"
}
secret() {
    printf '{ "name": "%s", "file": "%s", "path": "/run/flakectl/secrets/%s", "owner": "root", "group": "root", "mode": "0400", "restartUnits": [], "reloadUnits": [] }' \
        "$1" "$2" "$1"
}
a1=$(enc token "$P1" "$hostpub")
A=$(mk_top a)
write_profile "$A"
echo "[ $(secret token "$a1") ]" >"$A/secrets.json"
fl activate "$A" --mode switch >"$T/out1" 2>&1 || { cat "$T/out1"; fail "switch with a PQ host key"; }
[ "$(cat "$ROOT/run/flakectl/secrets/token")" = "$P1" ] || fail "token plaintext"
[ "$(stat -c '%a' "$ROOT/run/flakectl/secrets.d/1/token")" = 400 ] || fail "token mode"
for d in "$STATE" "$STORE" "$T/tops"; do
    ! grep -rqF -e "$P1" "$d" || fail "plaintext found under $d"
done
expect_not_contains "$T/out1" "$P1"

b1=$(enc token "$P1" "$otherpub")
B=$(mk_top b)
write_profile "$B"
echo "[ $(secret token "$b1") ]" >"$B/secrets.json"
before=$(snapshot "$ROOT" "$STATE")
if fl activate "$B" --mode switch >"$T/out2" 2>&1; then fail "a secret for another PQ key was installed"; fi
grep -q "cannot be decrypted" "$T/out2" || fail "unclear refusal: $(cat "$T/out2")"
[ "$(snapshot "$ROOT" "$STATE")" = "$before" ] || fail "the refused switch changed something"
echo "secret_activate_pq: ok"
