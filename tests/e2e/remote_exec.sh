# remote_exec.sh - commands over one flakectl SSH connection against a real sshd: output and
# exit status, stderr kept apart, a 20 MiB stdin round trip, many execs on one connection,
# prefixed lines, signals, and the "flakectl is not installed" diagnosis.
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

sshd_work

SSHD_ENV="FLAKECTL_ROOT=$work/target-root FLAKECTL_STATE_DIR=$work/target-state" \
    sshd_start node1 || fail "sshd did not start"
X=("$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY")

# first contact: trust on first use, then plain runs
run "${X[@]}" --accept-new-host-key -n -- echo hello
expect_rc 0
expect_eq "$OUT" "hello" "stdout of echo"
expect_in ERR "permanently added the host key"

# stdout and stderr stay apart; the exit status is the command's
run "${X[@]}" -n -- 'echo out; echo err >&2; exit 7'
expect_rc 7
expect_eq "$OUT" "out" "stdout"
expect_eq "$ERR" "err" "stderr"

# the target side sees the environment the test sshd sets (how remote tests aim flakectl
# at a temporary root and state dir)
run "${X[@]}" -n -- 'echo "$FLAKECTL_ROOT|$FLAKECTL_STATE_DIR"'
expect_rc 0
expect_eq "$OUT" "$work/target-root|$work/target-state" "target environment"

# 20 MiB of stdin through cat and back, and through sha256sum on the target
head -c $((20 * 1024 * 1024)) /dev/urandom >"$work/big"
want=$(sha256sum <"$work/big" | cut -d' ' -f1)
got=$("${X[@]}" -- cat <"$work/big" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "sha256 of 20 MiB sent through remote cat"
run "${X[@]}" -- sha256sum <"$work/big"
expect_rc 0
expect_eq "${OUT%% *}" "$want" "remote sha256sum of 20 MiB stdin"
# stdin from a pipe (a producer that is slower than the file system)
got=$(cat "$work/big" | "${X[@]}" -- 'cat | sha256sum' | cut -d' ' -f1)
expect_eq "$got" "$want" "20 MiB piped through remote cat | sha256sum"
# a progress line for the stream (not a terminal: only the final line)
run "${X[@]}" --progress --label node1 -- 'cat >/dev/null' <"$work/big"
expect_rc 0
expect_in ERR "[node1] sent 20.0 MiB"
expect_in ERR " MiB/s in "
# much output and much stderr at once must not deadlock
n=$("${X[@]}" -n -- 'head -c 5000000 /dev/zero; head -c 3000000 /dev/zero >&2' 2>"$work/e" | wc -c)
expect_eq "$n" "5000000" "stdout byte count"
expect_eq "$(wc -c <"$work/e")" "3000000" "stderr byte count"
# a command that exits without reading its input
run "${X[@]}" -- 'exit 4' <"$work/big"
expect_rc 4

# many commands over one connection: sshd logs one accepted login for all of them
before=$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")
run "${X[@]}" -n --repeat 50 -- 'echo x >>"$HOME/count"'
expect_rc 0
after=$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")
expect_eq "$((after - before))" "1" "logins for 50 commands"
expect_eq "$(wc -l <"$SSHD_DIR/home/count")" "50" "commands run"

# host-name prefixed output, a partial last line completed
run "${X[@]}" -n --prefix --label homelab-node1 -- 'printf "one\ntwo\nthree"; echo warn >&2'
expect_rc 0
expect_eq "$OUT" "[homelab-node1] one
[homelab-node1] two
[homelab-node1] three" "prefixed stdout"
expect_eq "$ERR" "[homelab-node1] warn" "prefixed stderr"

# death by signal: reported with its name, status 128+N as a shell would
run "${X[@]}" -n -- 'kill -TERM $$'
expect_rc 143
expect_in ERR "killed by signal TERM"

# the connection dies under a running command (its sshd session process is killed; that
# is a child of the sshd this test started): a clear error, not a hang, exit 255
"${X[@]}" -n -- 'echo started; sleep 60' >"$work/cut.out" 2>"$work/cut.err" &
client=$!
for _ in $(seq 1 200); do grep -q started "$work/cut.out" 2>/dev/null && break; sleep 0.05; done
grep -q started "$work/cut.out" || fail "the long command did not start"
for child in $(pgrep -P "$SSHD_PID"); do kill -9 "$child"; done
for _ in $(seq 1 200); do kill -0 "$client" 2>/dev/null || break; sleep 0.05; done
kill -0 "$client" 2>/dev/null && { kill "$client"; fail "flakectl hung after its connection was cut"; }
wait "$client"
RC=$? ERR=$(cat "$work/cut.err") OUT=""
expect_rc 255
expect_in ERR "lost the connection to $SSHD_TARGET"

# a missing program, and a target without flakectl
run "${X[@]}" -n -- no-such-program-here
expect_rc 127
expect_in ERR "command not found"
run "${X[@]}" -n -- flakectl version
expect_rc 127
expect_in ERR "flakectl is not installed on"
expect_in ERR "hint: install flakectl on 127.0.0.1"
run "${X[@]}" -n --require-flakectl -- true
expect_rc 127
expect_in ERR "flakectl is not installed on"

# with flakectl on the target's PATH, the same checks pass and it runs there
sshd_stop node1
SSHD_PATH_PREPEND=$(dirname "$FLAKECTL") sshd_start node2 || fail "sshd did not start"
ssh-keygen -R "[127.0.0.1]:$SSHD_PORT" -f "$HOME/.ssh/known_hosts" >/dev/null 2>&1
run "$FLAKECTL" remote-exec --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" \
    --accept-new-host-key --require-flakectl -n -- flakectl version
expect_rc 0
expect_in OUT "flakectl "

echo "remote_exec: all checks passed"
