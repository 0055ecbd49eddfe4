#!/usr/bin/env bash
# Secrets at activation under --root: decrypted with the root's host key into
# run/flakectl/secrets.d/<N>/ with the declared owner, group and mode (owners made by the same
# activation), the secrets link flipped, the old generation's plaintext removed, declared
# paths linked, and the plaintext never in the state dir, the store or the output.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
export XDG_CACHE_HOME=$T/cache
base_etc
mkdir -p "$ROOT/etc/ssh"
"$FLAKECTL" secret keygen -o "$ROOT/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$ROOT/etc/ssh/ssh_host_ed25519_key")
P1="plain-one-$RANDOM$RANDOM"; P2="plain-two-$RANDOM$RANDOM"; P3="plain-three-$RANDOM$RANDOM"
# enc NAME PLAINTEXT [RECIPIENT]: an encrypted store file; prints its path.
enc() {
    local p=$STORE/$(printf '%s' "$1$2$RANDOM" | sha256sum | cut -c1-32)-$1.age
    printf '%s' "$2" | "$FLAKECTL" secret encrypt -r "${3:-$hostpub}" -o "$p"
    chmod 0444 "$p"
    echo "$p"
}
# secret NAME FILE [extra json]: a secrets.json entry.
secret() {
    printf '{ "name": "%s", "file": "%s", "path": "/run/flakectl/secrets/%s", "owner": "root", "group": "root", "mode": "0400", "restartUnits": [], "reloadUnits": [] %s}' \
        "$1" "$2" "$1" "${3:+, $3}"
}
svc_units="{ $(unit web.service r1 l1), $(unit db.service r1 l1), $(unit api.service r1 l1) }"
mk_units() { for u in web db api; do printf '[Service]\nExecStart=/bin/%s\n' "$u" >"$1/units/$u.service"; done; }

a1=$(enc token "$P1"); a2=$(enc apikey "$P2")
A=$(mk_top a); mk_units "$A"
write_profile "$A" users="{ $(user alice) }" units="$svc_units"
cat >"$A/secrets.json" <<JSON
[ $(secret token "$a1" '"owner": "alice", "group": "users", "mode": "0440", "restartUnits": ["web.service"]'),
  $(secret apikey "$a2" '"path": "/etc/app/api.key", "restartUnits": ["db.service"], "reloadUnits": ["api.service"]') ]
JSON
fl activate "$A" --mode switch >"$T/out1" 2>&1 || { cat "$T/out1"; fail "first switch"; }
cat "$T/out1" >&2
[ "$(readlink "$ROOT/run/flakectl/secrets")" = "secrets.d/1" ] || fail "secrets link: $(readlink "$ROOT/run/flakectl/secrets")"
[ "$(cat "$ROOT/run/flakectl/secrets/token")" = "$P1" ] || fail "token plaintext"
[ "$(cat "$ROOT/run/flakectl/secrets/apikey")" = "$P2" ] || fail "apikey plaintext"
alice_uid=$(grep '^alice:' "$ROOT/etc/passwd" | cut -d: -f3)
[ "$(stat -c '%a %u %g' "$ROOT/run/flakectl/secrets.d/1/token")" = "440 $alice_uid 100" ] || fail "token mode/owner: $(stat -c '%a %u %g' "$ROOT/run/flakectl/secrets.d/1/token")"
[ "$(stat -c '%a %u %g' "$ROOT/run/flakectl/secrets.d/1/apikey")" = "400 0 0" ] || fail "apikey mode/owner"
[ "$(stat -c '%a' "$ROOT/run/flakectl/secrets.d/1")" = 751 ] || fail "generation dir mode"
[ "$(readlink "$ROOT/etc/app/api.key")" = "/run/flakectl/secrets/apikey" ] || fail "declared path link"
for d in "$STATE" "$STORE" "$T/tops"; do
    ! grep -rqF -e "$P1" -e "$P2" "$d" || fail "plaintext found under $d"
done
expect_not_contains "$T/out1" "$P1"
expect_not_contains "$T/out1" "$P2"

# B: token re-encrypted with the same plaintext (no restart), apikey changed (restart db,
# reload api), a new secret.
b1=$(enc token "$P1"); b2=$(enc apikey "$P3"); b3=$(enc extra "$P1")
B=$(mk_top b); mk_units "$B"
write_profile "$B" users="{ $(user alice) }" units="$svc_units"
cat >"$B/secrets.json" <<JSON
[ $(secret token "$b1" '"owner": "alice", "group": "users", "mode": "0440", "restartUnits": ["web.service"]'),
  $(secret apikey "$b2" '"restartUnits": ["db.service"], "reloadUnits": ["api.service"]') ]
JSON
before=$(snapshot "$ROOT" "$STATE")
fl activate "$B" --mode dry-activate >"$T/plan" 2>&1 || { cat "$T/plan"; fail "dry-activate"; }
cat "$T/plan" >&2
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "dry-activate changed something"
expect_contains "$T/plan" "~ apikey -> /run/flakectl/secrets/apikey (content changed)"
expect_contains "$T/plan" "restart  db.service  (secret apikey changed)"
expect_contains "$T/plan" "reload   api.service  (secret apikey changed)"
expect_not_contains "$T/plan" "web.service  (secret"
expect_contains "$T/plan" "~ token -> /run/flakectl/secrets/token (content unchanged)"
expect_not_contains "$T/plan" "$P3"
fl activate "$B" --mode switch >"$T/out2" 2>&1 || { cat "$T/out2"; fail "second switch"; }
cat "$T/out2" >&2
expect_contains "$T/out2" "restart  db.service  (secret apikey changed)"
expect_not_contains "$T/out2" "web.service  (secret"
[ "$(readlink "$ROOT/run/flakectl/secrets")" = "secrets.d/2" ] || fail "link not flipped to 2"
[ ! -e "$ROOT/run/flakectl/secrets.d/1" ] || fail "old generation's plaintext left behind"
[ "$(ls "$ROOT/run/flakectl/secrets.d")" = 2 ] || fail "secrets.d holds $(ls "$ROOT/run/flakectl/secrets.d")"
[ "$(cat "$ROOT/run/flakectl/secrets/apikey")" = "$P3" ] || fail "apikey not updated"
[ ! -L "$ROOT/etc/app/api.key" ] || fail "link of a path no longer declared left behind"
for d in "$STATE" "$STORE" "$T/tops"; do
    ! grep -rqF -e "$P1" -e "$P3" "$d" || fail "plaintext found under $d"
done

# A unit listed by two changed secrets, and changed itself, restarts once.
c1=$(enc token "$P2"); c2=$(enc apikey "$P1")
C=$(mk_top c); mk_units "$C"
write_profile "$C" users="{ $(user alice) }" units="{ $(unit web.service r2 l1), $(unit db.service r1 l1), $(unit api.service r1 l1) }"
cat >"$C/secrets.json" <<JSON
[ $(secret token "$c1" '"owner": "alice", "group": "users", "restartUnits": ["web.service", "db.service"]'),
  $(secret apikey "$c2" '"restartUnits": ["db.service"], "reloadUnits": ["web.service"]') ]
JSON
fl activate "$C" --mode dry-activate >"$T/out3" 2>&1 || { cat "$T/out3"; fail "dry-activate C"; }
cat "$T/out3" >&2
[ "$(grep -cE '^ +(restart|reload|start|stop) +web.service' "$T/out3")" = 1 ] || fail "web.service acted on more than once"
[ "$(grep -cE '^ +(restart|reload|start|stop) +db.service' "$T/out3")" = 1 ] || fail "db.service acted on more than once"
expect_contains "$T/out3" "restart  web.service  (restartHash changed"
expect_contains "$T/out3" "restart  db.service  (secret token changed; secret apikey changed)"
fl activate "$C" --mode switch >"$T/out3b" 2>&1 || { cat "$T/out3b"; fail "third switch"; }

# Removing every secret removes the link and all plaintext.
D=$(mk_top d); mk_units "$D"
write_profile "$D" users="{ $(user alice) }" units="$svc_units"
fl activate "$D" --mode switch >"$T/out4" 2>&1 || { cat "$T/out4"; fail "fourth switch"; }
[ ! -e "$ROOT/run/flakectl/secrets" ] && [ ! -L "$ROOT/run/flakectl/secrets" ] || fail "secrets link left"
[ ! -e "$ROOT/run/flakectl/secrets.d" ] || fail "secrets.d left: $(ls -R "$ROOT/run/flakectl/secrets.d")"
echo ok
