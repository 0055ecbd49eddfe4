#!/usr/bin/env bash
# A user's session: switch a hand-built toplevel into an empty root, switch to a second one
# that changes, adds and drops files, list generations, roll back.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc

motd1=$(store_file motd 'welcome to h1
')
motd2=$(store_file motd 'welcome to h1, now with generation 2
')
issue=$(store_file issue 'Debian-ish
')
wg=$(store_file wg0.conf '[Interface]
PrivateKey = secret
')
nft=$(store_file nftables.conf 'table inet filter {}
')
bashrc=$(store_file bashrc 'alias ll="ls -l"
')
gitconfig=$(store_file gitconfig '[user]
  name = Alice
')

A=$(mk_top a)
link_etc "$A" motd "$motd1"; link_etc "$A" issue "$issue"; link_etc "$A" wireguard/wg0.conf "$wg"
write_profile "$A" \
    etc="{ $(etc_link motd "$motd1"), $(etc_link issue "$issue"), $(etc_copy wireguard/wg0.conf "$wg" 0600) }" \
    users="{ $(user alice) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { \".bashrc\": { \"source\": \"$bashrc\", \"executable\": false, \"copy\": false } } } }" \
    flake='{ "path": "/src", "rev": "1111111111111111111111111111111111111111", "dirty": false }'

fl activate "$A" --mode switch >"$T/out1"
expect_contains "$T/out1" "generation 1 is the default"
[ "$(readlink "$ROOT/etc/static")" = "$A/etc" ] || fail "etc/static does not point at A/etc"
[ "$(readlink "$ROOT/etc/motd")" = /etc/static/motd ] || fail "motd is not linked through /etc/static"
[ "$(cat "$ROOT/etc/static/motd")" = "welcome to h1" ] || fail "motd content"
[ -f "$ROOT/etc/wireguard/wg0.conf" ] && [ ! -L "$ROOT/etc/wireguard/wg0.conf" ] || fail "wg0.conf must be a copy"
[ "$(stat -c %a "$ROOT/etc/wireguard/wg0.conf")" = 600 ] || fail "wg0.conf mode"
cmp -s "$ROOT/etc/wireguard/wg0.conf" "$wg" || fail "wg0.conf content"
[ "$(readlink "$ROOT/home/alice/.bashrc")" = "$bashrc" ] || fail "home link"
[ "$(readlink "$STATE/profiles/system")" = system-1-link ] || fail "default link"
[ "$(readlink "$STATE/profiles/system-1-link")" = "$A" ] || fail "generation 1 link"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$A" ] || fail "current link"
grep -q '^alice:x:1000:100::/home/alice:/bin/sh$' "$ROOT/etc/passwd" || fail "alice not in passwd"
[ "$(stat -c %u "$ROOT/home/alice")" = 1000 ] || fail "home not owned by alice"

# Generation 2: motd changes, issue goes, nftables comes, wg0.conf becomes 0640, a home file
# is added.
B=$(mk_top b)
link_etc "$B" motd "$motd2"; link_etc "$B" nftables.conf "$nft"; link_etc "$B" wireguard/wg0.conf "$wg"
write_profile "$B" \
    etc="{ $(etc_link motd "$motd2"), $(etc_link nftables.conf "$nft"), $(etc_copy wireguard/wg0.conf "$wg" 0640) }" \
    users="{ $(user alice) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { \".bashrc\": { \"source\": \"$bashrc\", \"executable\": false, \"copy\": false }, \".config/git/config\": { \"source\": \"$gitconfig\", \"executable\": false, \"copy\": false } } } }" \
    flake='{ "path": "/src", "rev": "2222222222222222222222222222222222222222", "dirty": true }'
fl activate "$B" --mode switch >"$T/out2"
expect_contains "$T/out2" "- /etc/issue"
expect_contains "$T/out2" "+ /etc/nftables.conf"
expect_contains "$T/out2" "~ /etc/motd"
expect_contains "$T/out2" "generation 2 is the default"
[ ! -e "$ROOT/etc/issue" ] && [ ! -L "$ROOT/etc/issue" ] || fail "stale /etc/issue not removed"
[ "$(readlink "$ROOT/etc/static")" = "$B/etc" ] || fail "etc/static not flipped"
[ "$(readlink "$ROOT/etc/nftables.conf")" = /etc/static/nftables.conf ] || fail "nftables.conf"
[ "$(stat -c %a "$ROOT/etc/wireguard/wg0.conf")" = 640 ] || fail "wg0.conf mode not updated"
[ "$(readlink "$ROOT/home/alice/.config/git/config")" = "$gitconfig" ] || fail "new home file"
[ "$(stat -c %u "$ROOT/home/alice/.config")" = 1000 ] || fail "created home dirs belong to alice"

fl generations >"$T/gens"
cat "$T/gens"
expect_contains "$T/gens" "rev 222222222222-dirty"
grep -E '^ +2 .*\(default\)  \(current\)$' "$T/gens" >/dev/null || fail "generation 2 should be default and current"
grep -E '^ +1 .*rev 111111111111 ' "$T/gens" >/dev/null || fail "generation 1 listed with its rev"
fl generations --json >"$T/gens.json"
python3 - "$T/gens.json" "$A" "$B" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
assert [x["number"] for x in g] == [1, 2], g
assert g[0]["toplevel"] == sys.argv[2] and g[1]["toplevel"] == sys.argv[3], g
assert g[1]["default"] and g[1]["current"] and not g[0]["default"] and not g[0]["current"], g
assert g[1]["dirty"] is True and g[0]["dirty"] is False, g
assert g[0]["rev"] == "1" * 40, g
PY

# Roll back: generation 1's files are back, no new generation is made.
fl rollback >"$T/out3"
expect_contains "$T/out3" "rolling back to generation 1"
[ "$(readlink "$ROOT/etc/static")" = "$A/etc" ] || fail "rollback: etc/static"
[ "$(readlink "$ROOT/etc/issue")" = /etc/static/issue ] || fail "rollback: issue back"
[ ! -L "$ROOT/etc/nftables.conf" ] || fail "rollback: nftables.conf still there"
[ ! -e "$ROOT/home/alice/.config/git/config" ] && [ ! -L "$ROOT/home/alice/.config/git/config" ] || fail "rollback: home file"
[ "$(stat -c %a "$ROOT/etc/wireguard/wg0.conf")" = 600 ] || fail "rollback: wg0.conf mode"
[ "$(readlink "$STATE/profiles/system")" = system-1-link ] || fail "rollback: default"
[ "$(readlink "$ROOT/run/flakectl/current")" = "$A" ] || fail "rollback: current"
[ ! -e "$STATE/profiles/system-3-link" ] || fail "rollback must not create a generation"
# And forward again with --to.
fl rollback --to 2 >/dev/null
[ "$(readlink "$ROOT/run/flakectl/current")" = "$B" ] || fail "rollback --to 2"
# diff between the generations, by number.
fl diff 1 2 >"$T/diff"
expect_contains "$T/diff" "- /etc/issue"
expect_contains "$T/diff" "+ /etc/nftables.conf"
expect_contains "$T/diff" "+welcome to h1, now with generation 2"
echo ok
