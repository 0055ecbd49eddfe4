#!/usr/bin/env bash
# The closure check: every store path profile.json and secrets.json name must exist; all the
# missing ones are listed at once and nothing changes. Also bad profile.json input.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
m=$(store_file motd 'hi
')
A=$(mk_top a); link_etc "$A" motd "$m"
write_profile "$A" etc="{ $(etc_link motd "$m"), $(etc_link gone.conf "$STORE/0000-missing-gone.conf") }" \
    packages="[ \"$STORE/1111-missing-pkg\" ]" units="{ $(unit x.service r l) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { \".x\": { \"source\": \"$STORE/2222-missing-x\", \"executable\": false, \"copy\": false } } } }"
printf '[ { "name": "tok", "file": "%s", "path": "/run/flakectl/secrets/tok" } ]\n' "$STORE/3333-missing.age" >"$A/secrets.json"
before=$(snapshot "$ROOT" "$STATE")
if fl activate "$A" --mode switch >/dev/null 2>"$T/err"; then fail "incomplete closure accepted"; fi
cat "$T/err" >&2
expect_contains "$T/err" "5 paths missing"
expect_contains "$T/err" "etc.\"gone.conf\".source: $STORE/0000-missing-gone.conf"
expect_contains "$T/err" "packages[0]: $STORE/1111-missing-pkg"
expect_contains "$T/err" "home.alice.files.\".x\".source"
expect_contains "$T/err" "secrets.json \"tok\".file"
expect_contains "$T/err" "units.\"x.service\".file"
expect_contains "$T/err" "nothing was changed"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "changed something"

# Not a toplevel / broken JSON / bad entries: errors that name the file and the key.
mkdir -p "$T/nottop"
if fl activate "$T/nottop" --mode switch 2>"$T/e1"; then fail "accepted a dir without profile.json"; fi
expect_contains "$T/e1" "has no profile.json"
B=$(mk_top b); printf '{ "version": 1,\n  "etc": { oops }\n}\n' >"$B/profile.json"
if fl activate "$B" --mode switch 2>"$T/e2"; then fail "accepted broken JSON"; fi
expect_contains "$T/e2" "$B/profile.json:2"
C=$(mk_top c); write_profile "$C" etc="{ $(etc_link ../passwd "$m") }"
if fl activate "$C" --mode switch 2>"$T/e3"; then fail "accepted ../passwd"; fi
expect_contains "$T/e3" "etc.\"../passwd\": a target must be a relative path"
D=$(mk_top d); write_profile "$D" etc="{ $(etc_copy motd "$m" 0abc) }"
if fl activate "$D" --mode switch 2>"$T/e4"; then fail "accepted mode 0abc"; fi
expect_contains "$T/e4" "etc.\"motd\".mode: '0abc'"
if fl activate "$A" --mode sideways 2>"$T/e5"; then fail "accepted a bad mode"; fi
expect_contains "$T/e5" "unknown mode 'sideways'"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "changed something (2)"
echo ok
