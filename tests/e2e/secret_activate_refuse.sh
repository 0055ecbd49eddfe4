#!/usr/bin/env bash
# A secret the host cannot decrypt (encrypted to another key, or no host key at all), or a
# declared secret path held by a file flakectl did not make, stops the switch before
# anything changes: the root and the state dir are byte for byte as before.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
export XDG_CACHE_HOME=$T/cache
base_etc
mkdir -p "$ROOT/etc/ssh"
"$FLAKECTL" secret keygen -o "$ROOT/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$ROOT/etc/ssh/ssh_host_ed25519_key")
"$FLAKECTL" secret keygen -o "$T/other.key" 2>/dev/null
otherpub=$("$FLAKECTL" secret keygen -y "$T/other.key")
P1="plain-one-$RANDOM$RANDOM"; P2="plain-two-$RANDOM$RANDOM"
enc() {
    local p=$STORE/$(printf '%s' "$1$2$RANDOM" | sha256sum | cut -c1-32)-$1.age
    printf '%s' "$2" | "$FLAKECTL" secret encrypt -r "$3" -o "$p"
    echo "$p"
}
secret() {
    printf '{ "name": "%s", "file": "%s", "path": "%s", "owner": "root", "group": "root", "mode": "0400", "restartUnits": [], "reloadUnits": [] }' \
        "$1" "$2" "${3:-/run/flakectl/secrets/$1}"
}
ok1=$(enc token "$P1" "$hostpub")
A=$(mk_top a)
c=$(store_file motd 'hello
')
link_etc "$A" motd "$c"
write_profile "$A" etc="{ $(etc_link motd "$c") }"
echo "[ $(secret token "$ok1") ]" >"$A/secrets.json"
fl activate "$A" --mode switch >/dev/null

# B changes /etc too, and one of its two secrets is for another host only.
bad=$(enc apikey "$P2" "$otherpub"); ok2=$(enc token "$P2" "$hostpub")
B=$(mk_top b)
c2=$(store_file motd 'changed
')
link_etc "$B" motd "$c2"
write_profile "$B" etc="{ $(etc_link motd "$c2") }" users="{ $(user bob) }"
echo "[ $(secret token "$ok2"), $(secret apikey "$bad") ]" >"$B/secrets.json"
before=$(snapshot "$ROOT" "$STATE")
set +e
fl activate "$B" --mode switch >"$T/out" 2>"$T/err"
rc=$?
set -e
cat "$T/out" "$T/err" >&2
[ "$rc" -ne 0 ] || fail "switch with an undecryptable secret succeeded"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || { diff <(echo "$before") <(snapshot "$ROOT" "$STATE") >&2; fail "the failed switch changed something"; }
expect_contains "$T/err" "1 secret cannot be decrypted"
expect_contains "$T/err" "secret \"apikey\" ($bad)"
expect_contains "$T/err" "$ROOT/etc/ssh/ssh_host_ed25519_key"
expect_contains "$T/err" "nothing was changed"
expect_not_contains "$T/err" "$P2"
[ "$(cat "$ROOT/run/flakectl/secrets/token")" = "$P1" ] || fail "old secret not in place"
! grep -rqF "$P2" "$STATE" "$STORE" "$T/tops" || fail "plaintext in the state or store"

# dry-activate says the switch would stop, names the secret, changes nothing.
fl activate "$B" --mode dry-activate >"$T/plan" 2>&1 || true
expect_contains "$T/plan" "+ apikey -> /run/flakectl/secrets/apikey: cannot be decrypted here"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "dry-activate changed something"

# No host key at all: the error says which identity files were missing.
mv "$ROOT/etc/ssh/ssh_host_ed25519_key" "$T/hostkey"
before=$(snapshot "$ROOT" "$STATE")
echo "[ $(secret token "$ok2") ]" >"$B/secrets.json"
set +e
fl activate "$B" --mode switch >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "switch without a host key succeeded"
expect_contains "$T/err" "$ROOT/etc/ssh/ssh_host_ed25519_key (missing)"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "the failed switch (no key) changed something"
mv "$T/hostkey" "$ROOT/etc/ssh/ssh_host_ed25519_key"

# A declared path holding someone's file: refused before anything changes, file kept.
mkdir -p "$ROOT/etc/app"
echo mine >"$ROOT/etc/app/token"
echo "[ $(secret token "$ok2" /etc/app/token) ]" >"$B/secrets.json"
before=$(snapshot "$ROOT" "$STATE")
set +e
fl activate "$B" --mode switch >"$T/out" 2>"$T/err"
rc=$?
set -e
cat "$T/err" >&2
[ "$rc" -ne 0 ] || fail "switch over an unmanaged file succeeded"
expect_contains "$T/err" "$ROOT/etc/app/token (path of secret \"token\")"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "the refused switch changed something"
[ "$(cat "$ROOT/etc/app/token")" = mine ] || fail "unmanaged file overwritten"
# Moved away, the same switch completes and links the path.
rm "$ROOT/etc/app/token"
fl activate "$B" --mode switch >/dev/null
[ "$(readlink "$ROOT/etc/app/token")" = /run/flakectl/secrets/token ] || fail "path not linked"
[ "$(cat "$ROOT$(readlink "$ROOT/etc/app/token")")" = "$P2" ] || fail "linked path does not give the plaintext"

# A step after the secrets fails (an activation script): the previous generation's secrets
# are put back and the failed generation's plaintext is gone.
P3="plain-three-$RANDOM$RANDOM"
E=$(mk_top e)
printf 'exit 3\n' >"$E/activation/boom.sh"
write_profile "$E" etc="{ $(etc_link motd "$c2") }" users="{ $(user bob) }" scripts="[ $(script boom) ]"
echo "[ $(secret token "$(enc token "$P3" "$hostpub")" /etc/app/token) ]" >"$E/secrets.json"
set +e
fl activate "$E" --mode switch >"$T/out" 2>"$T/err"
rc=$?
set -e
cat "$T/out" "$T/err" >&2
[ "$rc" -ne 0 ] || fail "failing script did not fail the switch"
expect_contains "$T/err" "restored"
[ "$(cat "$ROOT/run/flakectl/secrets/token")" = "$P2" ] || fail "previous secret not restored"
[ "$(ls "$ROOT/run/flakectl/secrets.d" | wc -l)" = 1 ] || fail "more than one generation dir: $(ls "$ROOT/run/flakectl/secrets.d")"
! grep -rqF "$P3" "$ROOT" "$STATE" || fail "the failed generation's plaintext is left"
echo ok
