# remote_reconnect.sh - reaching a target again after it went away (what magic rollback's
# confirmation does): retrying refused connections until the deadline, succeeding once the
# same sshd is back, giving up with the count of attempts, and never retrying past a host
# key that changed in between.
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

work=$(mktemp -d)
client=""
trap '[ -z "$client" ] || kill "$client" 2>/dev/null; sshd_stop_all; rm -rf "$work"' EXIT
export HOME=$work/home
mkdir -p "$HOME/.ssh"
unset SSH_AUTH_SOCK

sshd_start node1 || fail "sshd did not start"
port=$SSHD_PORT
X=("$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n)
run "${X[@]}" --accept-new-host-key -- true
expect_rc 0

# the target is gone: a bounded retry gives up, saying how often it tried
sshd_stop node1
run "${X[@]}" --retry-for 2 -- true
expect_rc 255
expect_in ERR "connection refused by 127.0.0.1 port $port"
expect_in ERR "gave up after"
expect_in ERR "in 2.0 s"

# the target comes back on the same port with the same key while the client retries
"${X[@]}" --retry-for 60 -- echo back >"$work/out" 2>"$work/err" &
client=$!
sleep 1
SSHD_FIXED_PORT=$port sshd_start node1 || fail "sshd did not restart on port $port"
wait "$client"
RC=$? OUT=$(cat "$work/out") ERR=$(cat "$work/err")
client=""
expect_rc 0
expect_eq "$OUT" "back" "output after reconnecting"

# back with another host key ("reinstalled"): refused at once, no retrying past it
sshd_stop node1
SSHD_FIXED_PORT=$port SSHD_NEW_HOSTKEY=1 sshd_start node1 || fail "sshd did not restart"
run "${X[@]}" --retry-for 60 -- true
expect_rc 255
expect_in ERR "HAS CHANGED"
expect_in ERR "known_hosts line 1"
expect_not_in ERR "gave up after"

echo "remote_reconnect: all checks passed"
