#!/usr/bin/env bash
# systemd_user_units.sh - home-manager users' user sockets and timers, and units written in
# home-manager's form (Unit / Service / Install sections, X-SwitchMethod, X-Reload-Triggers),
# against a real `systemd --user` (a lingering user) in a booted container: the switch
# installs them, starts the socket (not its service: a connection does) and the timer (which
# fires), a changed socket-activated service is stopped with its socket and only the socket
# is started again, a keep-old service is left running, a service whose X-Reload-Triggers
# changed is reloaded, a changed timer is restarted, removed ones are stopped. Asked of alice's
# manager (systemctl --user as alice) and of what the units wrote. Skips (77) where no
# container can boot or no user manager can start.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # UNITS (the attributes of alice's systemd.user)
    ns_host <<EOF
  users.users.alice = { isNormalUser = true; uid = 1000; };
  home-manager.users.alice.systemd.user = { $1 };
EOF
}
# Version $1 of alice's units; $2 the timer's OnActiveSec.
units() {
    cat <<EOF
    sockets.pong = { wantedBy = [ "sockets.target" ]; listenStreams = [ "127.0.0.1:7201" ]; };
    services.pong.Service.ExecStart = "/bin/sh -c 'echo $1 >%h/pong.version; exec sleep infinity'";
    timers.tick = { Timer = { OnActiveSec = "$2"; AccuracySec = "100ms"; }; Install.WantedBy = [ "timers.target" ]; };
    services.tick = { Service = { Type = "oneshot"; ExecStart = "/bin/sh -c 'echo $1 >>%h/ticks'"; }; };
    services.keep = {
      Unit = { Description = "keep $1"; X-SwitchMethod = "keep-old"; };
      Service.ExecStart = "/bin/sh -c 'echo $1 >%h/keep.version; exec sleep infinity'";
      Install.WantedBy = [ "default.target" ];
    };
    services.rl = {
      Unit.X-Reload-Triggers = [ "config-$1" ];
      Service = { ExecStart = "/bin/sleep infinity"; ExecReload = "/bin/sh -c 'echo reloaded >>%h/rl.reloads'"; };
      Install.WantedBy = [ "default.target" ];
    };
EOF
}
as_alice() { nsx runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 "$@"; }
uactive() { as_alice systemctl --user is-active "$1" 2>/dev/null || true; }
upid() { as_alice systemctl --user show -p MainPID --value "$1"; }
usince() { as_alice systemctl --user show -p ActiveEnterTimestampMonotonic --value "$1"; }
knock() { nsx timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"; }
udir=/home/alice/.config/systemd/user

nspawn_boot
host ''
ns_switch "alice made" --backup-ext pre-flakectl
nsx loginctl enable-linger alice
if ! nsx sh -c 'for i in $(seq 100); do systemctl is-active -q user@1000.service && exit 0; sleep 0.1; done; exit 1'; then
    nsx journalctl -u user@1000.service --no-pager | tail -5 >&2
    echo "SKIP: alice's user manager does not start in this container" >&2
    exit 77
fi

host "$(units v1 1s)"
ns_switch "first switch of the units"
expect_eq "socket link" "$(nsx readlink $udir/sockets.target.wants/pong.socket | cut -c1-24)" "/var/lib/flakectl/store/"
expect_eq "timer link" "$(nsx readlink $udir/timers.target.wants/tick.timer | cut -c1-24)" "/var/lib/flakectl/store/"
nsx test ! -e $udir/default.target.wants/pong.service || fail "pong.service (home-manager's form, no Install) is wanted by default.target"
nsx test ! -e $udir/default.target.wants/tick.service || fail "tick.service is wanted by default.target"
expect_eq "socket started" active "$(uactive pong.socket)"
expect_eq "listens where declared" "127.0.0.1:7201" "$(as_alice systemctl --user show -p Listen --value pong.socket | cut -d' ' -f1)"
expect_eq "its service waits for a connection" inactive "$(uactive pong.service)"
expect_eq "timer started" active "$(uactive tick.timer)"
ns_file_is "the timer fired" /home/alice/ticks v1
expect_eq "keep started" active "$(uactive keep.service)"
expect_eq "rl started" active "$(uactive rl.service)"
knock 7201
nspawn_wait "a connection starts pong" 10 runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user is-active -q pong.service
ns_file_is "pong v1" /home/alice/pong.version v1

pid_pong=$(upid pong.service) pid_keep=$(upid keep.service) pid_rl=$(upid rl.service)
since_tick=$(usince tick.timer)
host "$(units v2 2s)"
ns_switch "change"
# pong: stopped with its socket, only the socket started again (switch-to-configuration's order).
expect_eq "socket listening again" active "$(uactive pong.socket)"
expect_eq "changed pong stopped, not started" inactive "$(uactive pong.service)"
knock 7201
nspawn_wait "the next connection starts the new pong" 10 runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user is-active -q pong.service
ns_file_is "pong v2" /home/alice/pong.version v2
[ "$(upid pong.service)" != "$pid_pong" ] || fail "pong kept its old process"
expect_eq "keep-old service not restarted" "$pid_keep" "$(upid keep.service)"
expect_eq "keep still runs v1" v1 "$(nsx cat /home/alice/keep.version)"
expect_contains "the plan says why" "restartIfChanged = false" "$out"
expect_eq "rl kept its process" "$pid_rl" "$(upid rl.service)"
ns_file_is "rl reloaded (only its X-Reload-Triggers changed)" /home/alice/rl.reloads reloaded
expect_eq "timer active" active "$(uactive tick.timer)"
[ "$(usince tick.timer)" != "$since_tick" ] || fail "the changed timer was not restarted"
nspawn_wait "the restarted timer fired" 10 grep -qx v2 /home/alice/ticks

host ''
ns_switch "removal"
for u in pong.socket pong.service tick.timer keep.service rl.service; do
    expect_eq "$u stopped" inactive "$(uactive $u)"
done
nsx test ! -e $udir/pong.socket || fail "pong.socket's unit file left"
nsx test ! -e $udir/timers.target.wants/tick.timer || fail "tick.timer's .wants link left"
echo ok
