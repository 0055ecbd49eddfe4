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

# keepalives: ServerAliveInterval from ssh config makes the client send them while a command
# is silent (sshd at DEBUG1 logs each global request)
SSHD_EXTRA_CONFIG="LogLevel DEBUG1" sshd_start chatty || fail "sshd did not start"
printf 'Host *\n    ServerAliveInterval 1\n' >"$HOME/.ssh/config"
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" \
    --accept-new-host-key -n -- 'sleep 3; echo quiet'
expect_rc 0
expect_eq "$OUT" "quiet" "output after a silent stretch"
grep -q 'rtype keepalive@libssh2.org want_reply 1' "$SSHD_DIR/sshd.log" \
    || fail "no keepalive reached sshd during a silent 3 s command with ServerAliveInterval 1"

# a peer that freezes (its sshd session stopped: the kernel still ACKs, nothing answers):
# after 3 unanswered keepalive intervals the command fails instead of hanging
"$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" -n \
    -- 'echo started; sleep 60' >"$work/frozen.out" 2>"$work/frozen.err" &
client=$!
for _ in $(seq 1 200); do grep -q started "$work/frozen.out" 2>/dev/null && break; sleep 0.05; done
grep -q started "$work/frozen.out" || fail "the long command did not start"
# the session processes are descendants of the sshd this test started
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
frozen=($(descendants "$SSHD_PID"))
[ ${#frozen[@]} -gt 0 ] || fail "no sshd session process to freeze"
kill -STOP "${frozen[@]}"
for _ in $(seq 1 400); do kill -0 "$client" 2>/dev/null || break; sleep 0.05; done
hung=0
kill -0 "$client" 2>/dev/null && { hung=1; kill "$client"; }
wait "$client"
RC=$? ERR=$(cat "$work/frozen.err") OUT=""
client=""
kill -9 "${frozen[@]}" 2>/dev/null
kill -CONT "${frozen[@]}" 2>/dev/null
[ "$hung" = 0 ] || fail "flakectl still waited 20 s after its peer froze"
expect_rc 255
expect_in ERR "no answer to keepalives for"
rm "$HOME/.ssh/config"

echo "remote_reconnect: all checks passed"
