# remote_sudo.sh - --sudo with a real sudo on the target (this machine, through the test
# sshd): a non-root login runs commands as root, the password is asked once (askpass) and
# fed to every step without ever reaching a command's stdin, NOPASSWD needs no password, and
# a wrong password, a user without sudo rights and a missing terminal are clear errors.
# Needs root (it creates the test users and a sudoers drop-in) and sudo (install-deps.sh).
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

[ "$(id -u)" = 0 ] || fail "remote_sudo needs root to create its test users (CI runs as root)"
command -v sudo >/dev/null || fail "sudo is not installed: run scripts/install-deps.sh"

sshd_work
mkdir -p "$HOME/.ssh"
unset SUDO_ASKPASS

sudo_test_users || fail "cannot create the test users and their sudoers drop-in"

sshd_start node1 || fail "sshd did not start"
# the non-root logins must read the shared authorized_keys and their HOME
chmod 755 "$SSHD_BASE" "$SSHD_DIR"
chmod 644 "$SSHD_DIR/authorized_keys"
chmod 1777 "$SSHD_DIR/home"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >"$HOME/.ssh/known_hosts"

askpass=$work/askpass
cat >"$askpass" <<ASK
#!/bin/sh
echo called >>"$work/askpass.calls"
echo "\${FAKE_PASSWORD:-correct horse battery}"
ASK
chmod 755 "$askpass"
X() { # USER ARGS...
    local u=$1
    shift
    "$FLAKECTL" remote-exec --target-host "$u@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" "$@"
}

# without --sudo the login is itself
run X $SUDO_U -n -- id -un
expect_rc 0
expect_eq "$OUT" "$SUDO_U" "user without --sudo"

# with --sudo: root, the password asked once for several steps, stdin reaches the command
# untouched and the password nowhere
rm -f "$work/askpass.calls"
run X $SUDO_U --sudo --askpass "$askpass" -n --repeat 3 -- id -u
expect_rc 0
expect_eq "$OUT" "0
0
0" "id -u of 3 steps under --sudo"
expect_eq "$(wc -l <"$work/askpass.calls")" "1" "askpass calls for 3 steps"
run X $SUDO_U --sudo --askpass "$askpass" -- 'cat; echo "uid $(id -u)" >&2' <<<"the input"
expect_rc 0
expect_eq "$OUT" "the input" "stdin through sudo"
expect_eq "$ERR" "uid 0" "stderr through sudo (markers removed)"
expect_not_in OUT "horse"
expect_not_in ERR "horse"
expect_not_in ERR "flakectl:sudo"
# the exit status is the command's
run X $SUDO_U --sudo --askpass "$askpass" -n -- 'exit 5'
expect_rc 5
# SUDO_ASKPASS works as --askpass does
rm -f "$work/askpass.calls"
SUDO_ASKPASS=$askpass run X $SUDO_U --sudo -n -- id -u
expect_rc 0
expect_eq "$OUT" "0" "id -u with SUDO_ASKPASS"
expect_eq "$(wc -l <"$work/askpass.calls")" "1" "SUDO_ASKPASS calls"

# several hosts of a run share the one password: asked once for all of them
rm -f "$work/askpass.calls"
t="$SUDO_U@127.0.0.1:$SSHD_PORT"
run "$FLAKECTL" remote-exec --target-host "$t" --target-host "$t" --target-host "$t" -j 3 \
    -i "$SSHD_CLIENT_KEY" --sudo --askpass "$askpass" -- id -u
expect_rc 0
expect_eq "$(echo "$OUT" | grep -c "^\[$t\] 0$")" "3" "root on 3 hosts"
expect_in ERR "3 of 3 hosts succeeded"
expect_eq "$(wc -l <"$work/askpass.calls")" "1" "askpass calls for 3 hosts"

# a wrong password: refused before any step runs
FAKE_PASSWORD=wrong run X $SUDO_U --sudo --askpass "$askpass" -n -- "touch /tmp/$SUDO_U-ran"
expect_rc 255
expect_in ERR "sudo on $SUDO_U@127.0.0.1:$SSHD_PORT rejected the password for $SUDO_U"
[ ! -e /tmp/$SUDO_U-ran ] || { rm -f /tmp/$SUDO_U-ran; fail "a step ran after a wrong password"; }

# NOPASSWD: nothing asked, stdin intact
rm -f "$work/askpass.calls"
run X $NOPW_U --sudo --askpass "$askpass" -- 'cat; id -u' <<<"plain"
expect_rc 0
expect_eq "$OUT" "plain
0" "NOPASSWD output"
[ ! -e "$work/askpass.calls" ] || fail "the askpass program was called for a NOPASSWD user"

# a user sudo does not allow: sudo's own words in the error
run X $NOSUDO_U --sudo --askpass "$askpass" -n -- true
expect_rc 255
expect_in ERR "sudo on $NOSUDO_U@127.0.0.1:$SSHD_PORT refused to run commands as root"
expect_in ERR "not in the sudoers file"

# no terminal and no askpass program: said so, with the ways out
run setsid -w "$FLAKECTL" remote-exec --target-host "$SUDO_U@127.0.0.1:$SSHD_PORT" \
    -i "$SSHD_CLIENT_KEY" --sudo -n -- true
expect_rc 255
expect_in ERR "no terminal to ask on"
expect_in ERR "--askpass"

echo "remote_sudo: all checks passed"
