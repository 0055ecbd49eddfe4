#!/usr/bin/env bash
# Unmanaged files in the way: the switch stops before changing anything and names every one
# of them; with --backup-ext each is moved aside under a name that never clobbers an earlier
# backup.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
motd=$(store_file motd 'managed motd
')
hosts=$(store_file hosts '127.0.0.1 localhost
')
sshd=$(store_file sshd 'PermitRootLogin no
')
bashrc=$(store_file bashrc 'managed bashrc
')
A=$(mk_top a)
link_etc "$A" motd "$motd"; link_etc "$A" hosts "$hosts"; link_etc "$A" ssh/sshd_config.d/10-x.conf "$sshd"
write_profile "$A" \
    etc="{ $(etc_link motd "$motd"), $(etc_copy hosts "$hosts" 0644), $(etc_link ssh/sshd_config.d/10-x.conf "$sshd") }" \
    users="{ $(user alice) }" \
    home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { \".bashrc\": { \"source\": \"$bashrc\", \"executable\": false, \"copy\": false } } } }"

# Four things in the way: a file, a copy target with other content, a file where a directory
# must be, and a home file.
echo "the admin's motd" >"$ROOT/etc/motd"
echo "10.0.0.1 other" >"$ROOT/etc/hosts"
echo "not a directory" >"$ROOT/etc/ssh"
mkdir -p "$ROOT/home/alice"
echo "alice's own bashrc" >"$ROOT/home/alice/.bashrc"

before=$(snapshot "$ROOT" "$STATE")
if fl activate "$A" --mode switch >"$T/out" 2>"$T/err"; then fail "switch over unmanaged files succeeded"; fi
cat "$T/err" >&2
expect_contains "$T/err" "stopped before changing anything: 4 paths are in the way"
expect_contains "$T/err" "/etc/motd: exists and is not managed by flakectl"
expect_contains "$T/err" "/etc/hosts: exists and is not managed by flakectl"
expect_contains "$T/err" "/etc/ssh/sshd_config.d/10-x.conf: /etc/ssh is in the way"
expect_contains "$T/err" "/home/alice/.bashrc: exists and is not managed by flakectl"
expect_contains "$T/err" "--backup-ext"
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "a refused switch changed something"

# An earlier backup exists: it is never clobbered.
echo "older backup" >"$ROOT/etc/motd.bak"
fl activate "$A" --mode switch --backup-ext bak >"$T/out2"
cat "$T/out2" >&2
[ "$(cat "$ROOT/etc/motd.bak")" = "older backup" ] || fail "earlier backup clobbered"
[ "$(cat "$ROOT/etc/motd.bak.1")" = "the admin's motd" ] || fail "motd not moved to motd.bak.1"
[ "$(cat "$ROOT/etc/hosts.bak")" = "10.0.0.1 other" ] || fail "hosts not moved aside"
[ "$(cat "$ROOT/etc/ssh.bak")" = "not a directory" ] || fail "ssh not moved aside"
[ "$(cat "$ROOT/home/alice/.bashrc.bak")" = "alice's own bashrc" ] || fail ".bashrc not moved aside"
[ "$(readlink "$ROOT/etc/motd")" = /etc/static/motd ] || fail "motd not installed"
cmp -s "$ROOT/etc/hosts" "$hosts" || fail "hosts not installed"
[ -L "$ROOT/etc/ssh/sshd_config.d/10-x.conf" ] || fail "sshd conf not installed"
[ "$(readlink "$ROOT/home/alice/.bashrc")" = "$bashrc" ] || fail ".bashrc not installed"
expect_contains "$T/out2" "moved /etc/motd aside to /etc/motd.bak.1"

# A managed link replaced by the admin with a real file is theirs now: a conflict again.
rm "$ROOT/etc/motd"; echo "hand edit" >"$ROOT/etc/motd"
B=$(mk_top b); link_etc "$B" motd "$motd"
write_profile "$B" etc="{ $(etc_link motd "$motd") }"
if fl activate "$B" --mode switch >"$T/out3" 2>"$T/err3"; then fail "overwrote a replaced managed link"; fi
expect_contains "$T/err3" "/etc/motd: exists and is not managed by flakectl"
[ "$(cat "$ROOT/etc/motd")" = "hand edit" ] || fail "hand edit lost"
echo ok
