#!/usr/bin/env bash
# Users and groups written under --root: foreign lines and their order kept, uids stable
# across generations (ids.json), users flakectl made removed when undeclared, files owned.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
mkdir -p "$ROOT/etc"
cat >"$ROOT/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/bash
# managed by hand, keep me
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
carol:x:1000:100:Carol:/home/carol:/bin/zsh
P
printf 'root:x:0:\nwheel:x:10:root\nusers:x:100:\ncarol:x:1000:\n' >"$ROOT/etc/group"
printf 'root:$6$r$r:19000:0:99999:7:::\ndaemon:*:19000::::::\ncarol:$6$c$c:19000::::::\n' >"$ROOT/etc/shadow"
chmod 0600 "$ROOT/etc/shadow"
orig_passwd=$(cat "$ROOT/etc/passwd"); orig_shadow=$(cat "$ROOT/etc/shadow")

copy=$(store_file token 'secret-ish
')
A=$(mk_top a)
write_profile "$A" \
    users="{ $(user alice '"extraGroups": ["wheel"], "shell": "/bin/bash"'), $(user bob), \"prometheus\": { \"uid\": null, \"group\": \"prometheus\", \"extraGroups\": [], \"home\": \"/var/lib/prometheus\", \"createHome\": false, \"shell\": null, \"description\": \"Prometheus\", \"isNormalUser\": false, \"isSystemUser\": true, \"hashedPassword\": null, \"authorizedKeys\": [] } }" \
    groups='{ "admins": { "gid": 1500, "members": ["bob"] } }' \
    etc="{ $(etc_copy prometheus/token "$copy" 0640 prometheus prometheus) }"
fl activate "$A" --mode switch >"$T/out1"
cat "$T/out1" >&2
# The original lines are still the first lines, byte for byte.
[ "$(head -n 4 "$ROOT/etc/passwd")" = "$orig_passwd" ] || fail "foreign passwd lines changed"
[ "$(head -n 3 "$ROOT/etc/shadow")" = "$orig_shadow" ] || fail "foreign shadow lines changed"
[ "$(stat -c %a "$ROOT/etc/shadow")" = 600 ] || fail "shadow's mode not kept"
grep -qx 'alice:x:1001:100::/home/alice:/bin/bash' "$ROOT/etc/passwd" || fail "alice (1000 is carol's)"
grep -qx 'bob:x:1002:100::/home/bob:/bin/sh' "$ROOT/etc/passwd" || fail "bob"
grep -qx 'prometheus:x:999:999:Prometheus:/var/lib/prometheus:/usr/sbin/nologin' "$ROOT/etc/passwd" || fail "system user below 1000"
grep -qx 'wheel:x:10:root,alice' "$ROOT/etc/group" || fail "alice in wheel"
grep -qx 'admins:x:1500:bob' "$ROOT/etc/group" || fail "admins with bob"
grep -qx 'prometheus:x:999:' "$ROOT/etc/group" || fail "prometheus group"
grep -q '^alice:!:' "$ROOT/etc/shadow" || fail "alice locked in shadow"
# createHome: homes made 0700 and owned by their user; none for createHome = false.
expect_contains "$T/out1" "+ /home/bob/ (home of bob)"
[ "$(stat -c '%u %g %a' "$ROOT/home/bob")" = "1002 100 700" ] || fail "bob's home: $(stat -c '%u %g %a' "$ROOT/home/bob")"
[ ! -e "$ROOT/var/lib/prometheus" ] || fail "createHome = false made a home"
# A copied /etc file owned by a user made in the same switch.
[ "$(stat -c '%u:%g %a' "$ROOT/etc/prometheus/token")" = "999:999 640" ] || fail "token owner/mode: $(stat -c '%u:%g %a' "$ROOT/etc/prometheus/token")"

# Generation 2: bob goes, alice stays, dave comes. bob's lines go; alice keeps 1001.
B=$(mk_top b)
write_profile "$B" users="{ $(user alice '"extraGroups": ["wheel"], "shell": "/bin/bash"'), $(user dave) }"
fl activate "$B" --mode switch >"$T/out2"
expect_contains "$T/out2" "- user bob"
expect_contains "$T/out2" "- user prometheus"
expect_contains "$T/out2" "- group admins"
! grep -q '^bob:' "$ROOT/etc/passwd" || fail "bob not removed from passwd"
! grep -q '^bob:' "$ROOT/etc/shadow" || fail "bob not removed from shadow"
grep -qx 'alice:x:1001:100::/home/alice:/bin/bash' "$ROOT/etc/passwd" || fail "alice's uid changed"
grep -qx 'dave:x:1003:100::/home/dave:/bin/sh' "$ROOT/etc/passwd" || fail "dave must not reuse bob's 1002"
[ "$(head -n 4 "$ROOT/etc/passwd")" = "$orig_passwd" ] || fail "foreign lines changed (2)"
grep -q '^carol:x:1000:' "$ROOT/etc/passwd" || fail "carol (never declared) must stay"

# Generation 3 brings bob back: same uid as before.
C=$(mk_top c)
write_profile "$C" users="{ $(user alice '"extraGroups": ["wheel"], "shell": "/bin/bash"'), $(user bob), $(user dave) }"
fl activate "$C" --mode switch >/dev/null
grep -qx 'bob:x:1002:100::/home/bob:/bin/sh' "$ROOT/etc/passwd" || fail "bob's uid not stable"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["uids"]["bob"]==1002 and d["uids"]["alice"]==1001, d' "$STATE/activation/ids.json"

# A declared uid that another account holds: a clear error, nothing changed.
D=$(mk_top d)
write_profile "$D" users="{ $(user eve '"uid": 1000') }"
before=$(snapshot "$ROOT" "$STATE")
if fl activate "$D" --mode switch >/dev/null 2>"$T/err"; then fail "uid clash accepted"; fi
expect_contains "$T/err" "uid 1000 for 'eve' is already used by 'carol'"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "a refused switch changed something"
echo ok
