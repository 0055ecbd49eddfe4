# remote_auth.sh - connecting and authenticating against a real sshd: ~/.ssh/config aliases
# (HostName, Port, User, IdentityFile, first match wins), -i, ssh-agent, default key files,
# and the distinct errors for a wrong key (listing the keys tried), a passphrase-protected
# key, a refused port, an unknown host name, a silent server, and a malformed target.
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

work=$(mktemp -d)
agent_pid="" silent_pid=""
cleanup() {
    [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null
    [ -z "$silent_pid" ] || kill "$silent_pid" 2>/dev/null
    sshd_stop_all
    rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home
mkdir -p "$HOME/.ssh" "$HOME/keys"
unset SSH_AUTH_SOCK

sshd_start node1 || fail "sshd did not start"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >"$HOME/.ssh/known_hosts"
cp "$SSHD_CLIENT_KEY" "$HOME/keys/client"
ssh-keygen -q -t ed25519 -N '' -C wrong-key -f "$work/wrong"

# an alias: HostName, Port, User and IdentityFile (with ~) from the first matching block;
# the later "Host *" values do not override them
cat >"$HOME/.ssh/config" <<CFG
# deploy targets
Host homelab-node?
    HostName 127.0.0.1
    Port $SSHD_PORT
    User root
    IdentityFile ~/keys/client

Host *
    Port 1
    User nobody
CFG
run "$FLAKECTL" remote-exec --target-host homelab-node1 -n -- 'echo "$USER"'
expect_rc 0
expect_eq "$OUT" "root" "user via ssh config alias"
# OpenSSH's client reads the same file the same way (it takes ~ from the passwd entry, not
# $HOME, hence -F and the explicit files)
ssh -T -G -F "$HOME/.ssh/config" homelab-node1 </dev/null >"$work/G"
grep -qx "port $SSHD_PORT" "$work/G" || fail "ssh -G disagrees on the port: $(cat "$work/G")"
grep -qx "hostname 127.0.0.1" "$work/G" || fail "ssh -G disagrees on the HostName"
ssh -F "$HOME/.ssh/config" -o BatchMode=yes -o UserKnownHostsFile="$HOME/.ssh/known_hosts" \
    -i "$HOME/keys/client" homelab-node1 true </dev/null \
    || fail "OpenSSH cannot use the alias the test wrote"
# the target's own user@ and :port win over the config
run "$FLAKECTL" remote-exec --target-host "root@homelab-node2:$SSHD_PORT" -n -- echo ok
expect_rc 0
# an alias whose HostName does not resolve names both
printf 'Host broken\n    HostName no-such-host.invalid\n' >"$HOME/.ssh/config"
run "$FLAKECTL" remote-exec --target-host broken -n -- true
expect_rc 255
expect_in ERR "cannot resolve host name 'no-such-host.invalid' (HostName of 'broken' in ssh config)"
# --ssh-config none ignores it
run "$FLAKECTL" remote-exec --ssh-config none --target-host broken -n -- true
expect_rc 255
expect_in ERR "cannot resolve host name 'broken'"
rm "$HOME/.ssh/config"

# UserKnownHostsFile from ssh config is where keys are checked
mv "$HOME/.ssh/known_hosts" "$work/elsewhere"
printf 'Host *\n    UserKnownHostsFile %s\n' "$work/elsewhere" >"$HOME/.ssh/config"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n -- echo kh
expect_rc 0
expect_eq "$OUT" "kh" "UserKnownHostsFile"
rm "$HOME/.ssh/config"
mv "$work/elsewhere" "$HOME/.ssh/known_hosts"

# a wrong key: refused, and every key tried is listed
cp "$work/wrong" "$HOME/.ssh/id_ed25519"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$work/wrong" -n -- echo no
expect_rc 255
expect_eq "$OUT" "" "stdout after an auth failure"
expect_in ERR "authentication as root on $SSHD_TARGET failed; tried:"
expect_in ERR "- -i $work/wrong: rejected by the server"
expect_in ERR "- ssh-agent: not used (SSH_AUTH_SOCK is not set)"
expect_in ERR "- default key $HOME/.ssh/id_rsa: no such file"
expect_in ERR "- default key $HOME/.ssh/id_ed25519: rejected by the server"
# the same file named twice is tried once
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$HOME/.ssh/id_ed25519" -n -- true
expect_rc 255
expect_in ERR "- -i $HOME/.ssh/id_ed25519: rejected by the server"
expect_not_in ERR "default key $HOME/.ssh/id_ed25519"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -n -- echo no
expect_rc 255
expect_in ERR "- default key $HOME/.ssh/id_ed25519: rejected by the server"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$work/missing-key" -n -- true
expect_rc 255
expect_in ERR "- -i $work/missing-key: no such file"

# the default key file is used without -i
cp "$SSHD_CLIENT_KEY" "$HOME/.ssh/id_ed25519"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -n -- echo default
expect_rc 0
expect_eq "$OUT" "default" "default key"
rm "$HOME/.ssh/id_ed25519"

# a passphrase-protected key is reported as such (keys with passphrases go through the agent)
ssh-keygen -q -t ed25519 -N 'secret phrase' -f "$work/locked"
cat "$work/locked.pub" >>"$(sshd_info node1 dir)/authorized_keys"
rm "$work/locked.pub"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$work/locked" -n -- true
expect_rc 255
expect_in ERR "- -i $work/locked: cannot load it (passphrase-protected"

# ssh-agent: its keys are offered; a wrong one is listed by its comment
eval "$(ssh-agent -s)" >/dev/null
agent_pid=$SSH_AGENT_PID
ssh-add -q "$work/wrong" 2>/dev/null
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -n -- true
expect_rc 255
expect_in ERR "- ssh-agent key wrong-key: rejected by the server"
ssh-add -q "$SSHD_CLIENT_KEY" 2>/dev/null
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -n -- echo agent
expect_rc 0
expect_eq "$OUT" "agent" "authentication through ssh-agent"
kill "$agent_pid"
agent_pid=""
unset SSH_AUTH_SOCK SSH_AGENT_PID

# IPv6: user@[::1]:port, known_hosts naming [::1]:port
SSHD_LISTEN=::1 sshd_start v6 || fail "sshd on ::1 did not start"
expect_eq "$SSHD_TARGET" "root@[::1]:$SSHD_PORT" "harness target for ::1"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n -- echo six
expect_rc 255
expect_in ERR "the host key of [::1]:$SSHD_PORT is not known"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" --accept-new-host-key -n -- echo six
expect_rc 0
expect_eq "$OUT" "six" "output over IPv6"
grep -q "^\[::1\]:$SSHD_PORT ssh-ed25519 " "$HOME/.ssh/known_hosts" || fail "no [::1]:port line in known_hosts"
sshd_stop v6

# refused: nothing listens on the port any more
port=$SSHD_PORT
sshd_stop node1
run "$FLAKECTL" remote-exec --target-host "root@127.0.0.1:$port" -n -- true
expect_rc 255
expect_in ERR "connection refused by 127.0.0.1 port $port"
expect_in ERR "is sshd running"

# a name that does not resolve
run "$FLAKECTL" remote-exec --target-host root@no-such-host.invalid -n -- true
expect_rc 255
expect_in ERR "cannot resolve host name 'no-such-host.invalid'"

# a server that accepts TCP but never speaks SSH: the connect timeout ends the wait
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$work/silent.port" &
silent_pid=$!
for _ in $(seq 1 100); do [ -s "$work/silent.port" ] && break; sleep 0.05; done
run "$FLAKECTL" remote-exec --connect-timeout 1 --target-host "root@127.0.0.1:$(cat "$work/silent.port")" -n -- true
expect_rc 255
expect_in ERR "did not complete the SSH handshake within 1 s"

# a listener whose accept queue is full drops new SYNs: the TCP connect itself times out
kill "$silent_pid"
silent_pid=""
rm -f "$work/silent.port"
python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(8):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(1)
print(port, flush=True)
time.sleep(120)
' >"$work/silent.port" &
silent_pid=$!
for _ in $(seq 1 100); do [ -s "$work/silent.port" ] && break; sleep 0.05; done
run "$FLAKECTL" remote-exec --connect-timeout 1 --target-host "root@127.0.0.1:$(cat "$work/silent.port")" -n -- true
expect_rc 255
expect_in ERR "no answer from 127.0.0.1 port $(cat "$work/silent.port") within 1 s (connect timeout)"

# malformed targets are usage errors
for bad in "root@" "@host" "root@host:0" "root@host:99999" "root@[::1" "root@host:x"; do
    run "$FLAKECTL" remote-exec --target-host "$bad" -n -- true
    expect_rc 2
    expect_in ERR "target '$bad'"
done
run "$FLAKECTL" remote-exec -n -- true
expect_rc 2
expect_in ERR "needs --target-host"

echo "remote_auth: all checks passed"
