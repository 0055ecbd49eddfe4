# remote_fleet.sh - several targets at once (4 real sshd instances and one dead port):
# every host's lines prefixed with its name, -j N really running N hosts at the same time,
# one failure not stopping the others, the summary table, the exit status, --fail-fast.
set -u
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/assert.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"

sshd_work
mkdir -p "$HOME/.ssh"

targets=()
for n in 1 2 3 4; do
    SSHD_ENV="NODE=node$n" sshd_start "node$n" || fail "sshd node$n did not start"
    echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >>"$HOME/.ssh/known_hosts"
    targets+=(--target-host "$SSHD_TARGET")
done
# a port nothing listens on: the failing host
SSHD_ENV="NODE=node5" sshd_start node5 || fail "sshd node5 did not start"
dead=$SSHD_PORT
sshd_stop node5

X=("$FLAKECTL" remote-exec -i "$SSHD_CLIENT_KEY")

# all 4 at once: each host waits until every host has started, which only -j 4 allows
mkdir "$work/marks"
cmd='touch '"$work"'/marks/$NODE; for i in $(seq 1 300); do [ $(ls '"$work"'/marks | wc -l) -ge 4 ] && break; sleep 0.1; done; echo "$NODE saw $(ls '"$work"'/marks | wc -l) hosts"; echo "$NODE warns" >&2'
run "${X[@]}" "${targets[@]}" --target-host "root@127.0.0.1:$dead" -j 4 -- "$cmd"
expect_rc 1
for n in 1 2 3 4; do
    port=$(sshd_info "node$n" port)
    expect_in OUT "[root@127.0.0.1:$port] node$n saw 4 hosts"
    expect_in ERR "[root@127.0.0.1:$port] node$n warns"
    echo "$ERR" | grep -Eq "^root@127\.0\.0\.1:$port +ok +[0-9.]+s +exit status 0$" \
        || fail "no ok row for node$n in the summary:
$ERR"
done
echo "$ERR" | grep -Eq "^root@127\.0\.0\.1:$dead +FAILED +[0-9.]+s +connection refused by 127\.0\.0\.1 port $dead$" \
    || fail "no FAILED row for the dead host:
$ERR"
expect_in ERR "4 of 5 hosts succeeded"
expect_in ERR "host"

# a host whose command fails: exit status in the table, the others still run
run "${X[@]}" "${targets[@]}" -j 2 -- '[ "$NODE" != node2 ] || exit 3; echo "$NODE fine"'
expect_rc 1
expect_in OUT "node1 fine"
expect_in OUT "node4 fine"
echo "$ERR" | grep -Eq "^root@127\.0\.0\.1:$(sshd_info node2 port) +FAILED .*exit status 3$" \
    || fail "no exit-status row for node2:
$ERR"
expect_in ERR "3 of 4 hosts succeeded"

# everything fine: exit 0
run "${X[@]}" "${targets[@]}" -j 3 -- true
expect_rc 0
expect_in ERR "4 of 4 hosts succeeded"

# first contact with 4 hosts at once: every accepted key lands in known_hosts
mv "$HOME/.ssh/known_hosts" "$work/known_hosts.saved"
run "${X[@]}" "${targets[@]}" -j 4 --accept-new-host-key -- true
expect_rc 0
expect_eq "$(grep -c . "$HOME/.ssh/known_hosts")" "4" "known_hosts lines after 4 parallel accepts"
for n in 1 2 3 4; do
    ssh-keygen -F "[127.0.0.1]:$(sshd_info "node$n" port)" -f "$HOME/.ssh/known_hosts" >/dev/null \
        || fail "node$n's key is missing from known_hosts"
done

# --fail-fast, one at a time, the dead host first: the rest never start
rm -f "$work"/marks/*
run "${X[@]}" --target-host "root@127.0.0.1:$dead" "${targets[@]}" -j 1 --fail-fast -- 'touch '"$work"'/marks/$NODE'
expect_rc 1
expect_eq "$(ls "$work/marks" | wc -l)" "0" "hosts started after a --fail-fast failure"
expect_eq "$(echo "$ERR" | grep -c 'skipped .*not started (--fail-fast)')" "4" "skipped rows"

echo "remote_fleet: all checks passed"
