# remote_hostkeys.sh - host-key policy against a real sshd: unknown keys refused with the
# fingerprint ssh-keygen prints, trust on first use written in a format OpenSSH's ssh
# accepts, changed keys refused with the line to edit, hashed and [host]:port entries,
# wildcards, @revoked, and several host keys with only one of them known.
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

sshd_work
KH=$HOME/.ssh/known_hosts

sshd_start node1 || fail "sshd did not start"
X=("$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n)
fp=$(ssh-keygen -lf "$SSHD_HOSTPUB" | cut -d' ' -f2)
hostkey=$(cut -d' ' -f1,2 "$SSHD_HOSTPUB")

# unknown: refused, with the fingerprint, the file and the way out; nothing written
run "${X[@]}" -- echo no
expect_rc 255
expect_eq "$OUT" "" "stdout of a refused connection"
expect_in ERR "the host key of [127.0.0.1]:$SSHD_PORT is not known: ssh-ed25519 $fp"
expect_in ERR "$KH"
expect_in ERR "--accept-new-host-key"
[ ! -e "$KH" ] || fail "a refused connection wrote $KH"

# trust on first use: the key is added, the second connection needs no flag, and OpenSSH's
# own client accepts the file we wrote
run "${X[@]}" --accept-new-host-key -- echo yes
expect_rc 0
expect_eq "$OUT" "yes" "stdout after accepting"
expect_eq "$(grep -c . "$KH")" "1" "lines in known_hosts"
expect_eq "$(stat -c %a "$KH")" "600" "mode of a new known_hosts"
run "${X[@]}" -- echo again
expect_rc 0
expect_eq "$OUT" "again" "second connection"
ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KH" \
    -i "$SSHD_CLIENT_KEY" -p "$SSHD_PORT" root@127.0.0.1 true \
    || fail "OpenSSH's ssh does not accept the known_hosts line flakectl wrote"
# accepting again adds nothing
run "${X[@]}" --accept-new-host-key -- true
expect_rc 0
expect_eq "$(grep -c . "$KH")" "1" "lines after a second accept"

# changed: another key of the same type on line 3 -> refused, line named, file untouched,
# and --accept-new-host-key does not override it
ssh-keygen -q -t ed25519 -N '' -f "$work/other"
{
    echo "# my hosts"
    echo "example.org $(cut -d' ' -f1,2 "$work/other.pub")"
    echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$work/other.pub")"
} >"$KH"
before=$(sha256sum <"$KH")
run "${X[@]}" --accept-new-host-key -- echo no
expect_rc 255
expect_eq "$OUT" "" "stdout of a refused connection"
expect_in ERR "THE HOST KEY OF [127.0.0.1]:$SSHD_PORT HAS CHANGED"
expect_in ERR "$fp"
expect_in ERR "$KH line 3"
expect_in ERR "delete line 3 of $KH"
expect_in ERR "at $KH:3"
expect_eq "$(sha256sum <"$KH")" "$before" "known_hosts after a changed-key refusal"

# a plain "host" entry does not vouch for another port (as in OpenSSH)
echo "127.0.0.1 $hostkey" >"$KH"
run "${X[@]}" -- true
expect_rc 255
expect_in ERR "is not known"

# [host]:port with a wildcard and a negation
echo "[127.0.0.?]:$SSHD_PORT,!10.0.0.1 $hostkey" >"$KH"
run "${X[@]}" -- echo wild
expect_rc 0
expect_eq "$OUT" "wild" "wildcard entry"
echo "[127.0.0.?]:$SSHD_PORT,![127.0.0.1]:$SSHD_PORT $hostkey" >"$KH"
run "${X[@]}" -- true
expect_rc 255
expect_in ERR "is not known"

# hashed entries, made by ssh-keygen -H
{
    echo "example.org $(cut -d' ' -f1,2 "$work/other.pub")"
    echo "[127.0.0.1]:$SSHD_PORT $hostkey"
} >"$KH"
ssh-keygen -H -f "$KH" >/dev/null 2>&1
grep -q "127.0.0.1" "$KH" && fail "ssh-keygen -H left a plain name"
run "${X[@]}" -- echo hashed
expect_rc 0
expect_eq "$OUT" "hashed" "hashed entry"
# and a hashed entry with a wrong key is a changed key, with its line
{
    echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$work/other.pub")"
} >"$KH"
ssh-keygen -H -f "$KH" >/dev/null 2>&1
run "${X[@]}" -- true
expect_rc 255
expect_in ERR "HAS CHANGED"
expect_in ERR "line 1"

# HashKnownHosts yes in ssh config: accepted keys are written hashed, and ssh-keygen -F
# finds them
rm -f "$KH" "$KH.old"
printf 'Host *\n    HashKnownHosts yes\n' >"$HOME/.ssh/config"
run "${X[@]}" --accept-new-host-key -- true
expect_rc 0
grep -q '^|1|' "$KH" || fail "HashKnownHosts yes did not write a hashed entry: $(cat "$KH")"
ssh-keygen -F "[127.0.0.1]:$SSHD_PORT" -f "$KH" | grep -q 'found: line 1' \
    || fail "ssh-keygen -F cannot find the hashed entry flakectl wrote"
rm -f "$HOME/.ssh/config"

# the system-wide ssh config is read after the user's (as ssh without -F): its
# HashKnownHosts yes applies, and the user's own "no" wins over it
printf 'Host *\n    SendEnv LANG\n' >"$work/system_ssh_config"
rm -f "$KH"
FLAKECTL_SSH_SYSTEM_CONFIG=$work/system_ssh_config run "${X[@]}" --accept-new-host-key -- true
expect_rc 0
grep -q "^\[127.0.0.1\]:$SSHD_PORT " "$KH" || fail "expected a plain entry: $(cat "$KH")"
printf 'Host *\n    HashKnownHosts yes\n' >"$work/system_ssh_config"
rm -f "$KH"
FLAKECTL_SSH_SYSTEM_CONFIG=$work/system_ssh_config run "${X[@]}" --accept-new-host-key -- true
expect_rc 0
grep -q '^|1|' "$KH" || fail "the system config's HashKnownHosts yes was not applied: $(cat "$KH")"
rm -f "$KH"
printf 'Host *\n    HashKnownHosts no\n' >"$HOME/.ssh/config"
FLAKECTL_SSH_SYSTEM_CONFIG=$work/system_ssh_config run "${X[@]}" --accept-new-host-key -- true
expect_rc 0
grep -q "^\[127.0.0.1\]:$SSHD_PORT " "$KH" || fail "the user's HashKnownHosts no did not win: $(cat "$KH")"
rm -f "$HOME/.ssh/config"

# @revoked wins over a matching line
{
    echo "[127.0.0.1]:$SSHD_PORT $hostkey"
    echo "@revoked * $hostkey"
} >"$KH"
run "${X[@]}" -- true
expect_rc 255
expect_in ERR "@revoked"

# --known-hosts FILE is used instead of ~/.ssh/known_hosts
rm -f "$KH"
echo "[127.0.0.1]:$SSHD_PORT $hostkey" >"$work/kh"
run "${X[@]}" --known-hosts "$work/kh" -- echo file
expect_rc 0
expect_eq "$OUT" "file" "--known-hosts"

# a server with ed25519 and ecdsa host keys, known_hosts holding only its ecdsa key: that
# algorithm is asked for, so the known key is the one checked
SSHD_HOSTKEY_TYPES="ed25519 ecdsa" sshd_start multi || fail "sshd did not start"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/ssh_host_ecdsa_key.pub")" >"$KH"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n -- echo ecdsa
expect_rc 0
expect_eq "$OUT" "ecdsa" "ecdsa host key picked from known_hosts"

echo "remote_hostkeys: all checks passed"
