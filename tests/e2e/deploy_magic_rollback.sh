# deploy_magic_rollback.sh - magic rollback against a real sshd: a configuration whose
# activation stops the target's sshd (the deployer cannot come back) is undone by the
# target's watchdog; the deployer exits non-zero and says so; a late confirmation is told
# "too late"; a confirmed deployment is kept; --no-magic-rollback arms nothing.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
deploy_target_start n1
T=$SSHD_TARGET port=$SSHD_PORT
pidfile=$(sshd_info n1 dir)/pid
deploy_write_flake "n1 $T \"web\""
troot=$DEPLOY_WORK/targets/n1/root
tdeploy=$DEPLOY_WORK/targets/n1/state/deploy
# CUTOFF=1 adds an activation script stopping sshd. `kill` only sends the signal: on a loaded
# machine the listener may not run again before the deployer reconnects, and then the kernel
# gives it the waiting connection before the signal, so the deployer would get in and confirm.
# The script waits for sshd to remove its PidFile, which it does after closing its sockets.
sshd_pidfile=$(sshd_info n1 dir)/sshd.pid
conf() { # TEXT [CUTOFF]: the host's module
  local script=""
  [ "${2:-0}" = 1 ] && script="system.activationScripts.cutoff = \"kill \$(cat $pidfile) || true; i=0; while [ -e $sshd_pidfile ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i + 1)); done\";"
  echo "{ ... }: { networking.hostName = \"n1\"; environment.etc.\"greeting\".text = \"$1\n\"; $script }" \
    >"$DEPLOY_FLAKE/n1.nix"
}
wait_log() { # PATTERN: the newest watchdog log shows it (the watchdog works on its own time)
  local i log
  for i in $(seq 1 600); do
    log=$(ls -t "$tdeploy"/*.log 2>/dev/null | head -1)
    if [ -n "$log" ] && grep -q "$1" "$log"; then return 0; fi
    sleep 0.1
  done
  fail "the watchdog log never showed [$1]: $(cat "$log" 2>/dev/null)"
}
restart_target() { SSHD_FIXED_PORT=$port deploy_target_start n1 >/dev/null; }

conf v1
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "gen 1 exit" 0 "$rc"
expect_contains "first deploy: nothing to go back to" "magic rollback has nothing to go back to" "$out"
gen1=$(target_current n1)

# generation 2 stops sshd while activating: no new connection can confirm
conf v2 1
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --confirm-timeout 3
expect_eq "cut-off deploy exit" 1 "$rc"
expect_contains "watchdog armed" "magic rollback armed: generation 1 comes back" "$out"
expect_contains "activation itself succeeded" "[n1] generation 2 is the default" "$out"
expect_contains "deployer says it could not confirm" "could not reach n1 again within 3 s" "$err"
expect_contains "deployer says the target rolls back" "rolls back to generation 1 by itself" "$err"
wait_log "rolled back to generation 1"
expect_eq "target default back on 1" "system-1-link" "$(target_default n1)"
expect_eq "target current back on gen 1" "$gen1" "$(target_current n1)"
expect_eq "greeting back to v1" "v1" "$(cat "$troot/etc/static/greeting")"
kill -0 "$(cat "$pidfile" 2>/dev/null || echo 0)" 2>/dev/null && fail "sshd should have been stopped by the activation"
token=$(basename "$(ls -t "$tdeploy"/*.log | head -1)" .log)

restart_target
# a confirmation after the watchdog decided is refused as too late
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl deploy-agent confirm "$token"
expect_eq "late confirm exit" 3 "$rc"
expect_contains "late confirm says so" "too late: the watchdog already rolled back to generation 1" "$out"
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl deploy-agent confirm 0123456789abcdef
expect_eq "unknown token exit" 1 "$rc"
expect_contains "unknown token explained" "no deployment 0123456789abcdef is waiting" "$err"

# a deployment that keeps access is confirmed over a new connection and never rolled back
conf v3
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --confirm-timeout 10
expect_eq "confirmed deploy exit" 0 "$rc"
expect_contains "confirmed" "[n1] deployed: generation 3 (confirmed)" "$out"
wait_log "confirmed: keeping the new generation"
expect_eq "target default on 3" "system-3-link" "$(target_default n1)"
expect_eq "greeting v3" "v3" "$(cat "$troot/etc/static/greeting")"
expect_not_contains "no rollback in the confirmed log" "rolled back" "$(cat "$(ls -t "$tdeploy"/*.log | head -1)")"

# --no-magic-rollback: the cut-off configuration stays (no watchdog, no confirmation)
conf v4 1
nlogs=$(ls "$tdeploy"/*.log | wc -l)
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --no-magic-rollback
expect_eq "no-magic deploy exit" 0 "$rc"
expect_not_contains "no watchdog armed" "magic rollback armed" "$out"
expect_eq "no new watchdog log" "$nlogs" "$(ls "$tdeploy"/*.log | wc -l)"
expect_eq "target default on 4" "system-4-link" "$(target_default n1)"
expect_eq "greeting v4" "v4" "$(cat "$troot/etc/static/greeting")"
gen4=$(target_current n1)

# `test` mode: the watchdog puts the previous *current* toplevel back; the default stays
restart_target
conf v5 1
fl_deploy test --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --confirm-timeout 3
expect_eq "cut-off test deploy exit" 1 "$rc"
expect_contains "test deploy could not confirm" "could not reach n1 again" "$err"
wait_log "rolled back to generation 4"
expect_eq "current back on gen 4's toplevel" "$gen4" "$(target_current n1)"
expect_eq "default still 4" "system-4-link" "$(target_default n1)"
expect_eq "greeting back to v4" "v4" "$(cat "$troot/etc/static/greeting")"
echo "deploy_magic_rollback: ok"
