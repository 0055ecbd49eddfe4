#!/usr/bin/env bash
# dry-activate is a full plan (files with unified diffs, users, units with their rules,
# secrets by name, packages, scripts) and changes nothing, byte for byte.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
c1=$(store_file app.conf 'listen = 80
workers = 4
log = info
')
c2=$(store_file app.conf 'listen = 8080
workers = 4
log = info
')
gone=$(store_file gone.conf 'bye
')
new=$(store_file new.conf 'hello
')
pkg1=$(store_file pkg-htop 'x'); pkg2=$(store_file pkg-jq 'y'); pkg3=$(store_file pkg-curl 'z')
age=$(store_file k3s-token.age 'age-encryption.org/v1 ...')
A=$(mk_top a)
link_etc "$A" app.conf "$c1"; link_etc "$A" gone.conf "$gone"
for u in web db cron old; do printf '[Service]\nExecStart=/bin/%s\n' "$u" >"$A/units/$u.service"; done
write_profile "$A" etc="{ $(etc_link app.conf "$c1"), $(etc_link gone.conf "$gone") }" \
    users="{ $(user alice) }" packages="[ \"$pkg1\", \"$pkg2\" ]" \
    units="{ $(unit web.service r1 l1), $(unit db.service r1 l1), $(unit cron.service r1 l1 false), $(unit old.service r1 l1) }"
fl activate "$A" --mode switch >/dev/null

B=$(mk_top b)
link_etc "$B" app.conf "$c2"; link_etc "$B" new.conf "$new"
for u in web db cron new; do printf '[Service]\nExecStart=/bin/%s\n' "$u" >"$B/units/$u.service"; done
printf 'echo migrate\n' >"$B/activation/migrate.sh"
printf 'echo setup\n' >"$B/activation/setup.sh"
write_profile "$B" etc="{ $(etc_link app.conf "$c2"), $(etc_link new.conf "$new") }" \
    users="{ $(user alice '"shell": "/bin/bash"'), $(user bob) }" \
    groups='{ "admins": { "gid": 1500, "members": [] } }' \
    packages="[ \"$pkg1\", \"$pkg3\" ]" \
    units="{ $(unit web.service r2 l1), $(unit db.service r1 l2), $(unit cron.service r2 l1 false), $(unit new.service r1 l1) }" \
    scripts="[ $(script setup), $(script migrate) ]"
cat >"$B/secrets.json" <<JSON
[ { "name": "k3s-token", "file": "$age", "path": "/run/flakectl/secrets/k3s-token",
    "owner": "root", "group": "root", "mode": "0400", "restartUnits": ["k3s.service"], "reloadUnits": [] } ]
JSON
# An /etc file the admin put where B wants one: dry-activate reports the conflict too.
echo mine >"$ROOT/etc/new.conf"

before=$(snapshot "$ROOT" "$STATE")
set +e
fl activate "$B" --mode dry-activate >"$T/plan" 2>"$T/err"
rc=$?
set -e
cat "$T/plan" "$T/err" >&2
[ "$rc" -ne 0 ] || fail "dry-activate with a conflict should exit non-zero"
after=$(snapshot "$ROOT" "$STATE")
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") >&2; fail "dry-activate changed something"; }
expect_contains "$T/err" "activation would stop: 1 path is in the way"
expect_contains "$T/plan" "/etc/new.conf: exists and is not managed by flakectl"
# files, with a unified diff of the changed text
expect_contains "$T/plan" "~ /etc/app.conf"
expect_contains "$T/plan" "--- a/etc/app.conf"
expect_contains "$T/plan" "+++ b/etc/app.conf"
expect_contains "$T/plan" "@@ -1,3 +1,3 @@"
expect_contains "$T/plan" "-listen = 80"
expect_contains "$T/plan" "+listen = 8080"
expect_contains "$T/plan" " workers = 4"
expect_contains "$T/plan" "- /etc/gone.conf"
expect_contains "$T/plan" "+ /etc/new.conf"
# users and groups
expect_contains "$T/plan" "+ user bob (uid 1001"
expect_contains "$T/plan" "~ user alice: shell /bin/sh -> /bin/bash"
expect_contains "$T/plan" "+ group admins (gid 1500)"
# units and the rule that decided each
expect_contains "$T/plan" "stop     old.service  (removed from the configuration)"
expect_contains "$T/plan" "start    new.service  (added to the configuration)"
expect_contains "$T/plan" "restart  web.service  (restartHash changed"
expect_contains "$T/plan" "reload   db.service  (only reloadHash changed"
expect_contains "$T/plan" "keep     cron.service  (restartHash changed, but restartIfChanged = false)"
expect_contains "$T/plan" "daemon-reload"
expect_contains "$T/plan" "not executed: the root is not /"
# secrets by name only, packages, scripts in order
expect_contains "$T/plan" "+ k3s-token -> /run/flakectl/secrets/k3s-token"
expect_not_contains "$T/plan" "age-encryption.org"
expect_contains "$T/plan" "+ $pkg3"
expect_contains "$T/plan" "- $pkg2"
grep -A2 "activation scripts that would run" "$T/plan" | tr '\n' ' ' | grep -q "1. setup .* 2. migrate" || fail "scripts not listed in order"

# Without the conflict, dry-activate exits 0 and still changes nothing.
mv "$ROOT/etc/new.conf" "$T/kept"
before=$(snapshot "$ROOT" "$STATE")
fl activate "$B" --mode dry-activate >"$T/plan2"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "dry-activate changed something (2)"
expect_not_contains "$T/plan2" "conflicts"
# And a dry-activate with nothing active yet, in a fresh root and state.
R3=$T/r3; S3=$T/s3; mkdir -p "$R3" "$S3"
b3=$(snapshot "$R3" "$S3")
"$FLAKECTL" --root "$R3" --state-dir "$S3" activate "$B" --mode dry-activate >"$T/plan3"
expect_contains "$T/plan3" "current: (nothing active)"
[ "$b3" = "$(snapshot "$R3" "$S3")" ] || fail "dry-activate into an empty root changed it"
echo ok
