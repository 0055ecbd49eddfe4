#!/usr/bin/env bash
# systemd_sockets.sh - socket units against a real systemd in systemd-nspawn: the switch
# starts the socket (sockets.target wants it), not its service; a connection starts the
# service. Accept = true (greet): a changed service template is used from the next
# connection on without restarting the socket; a changed socket (new port) is restarted and
# listens there. Accept = false (pong, one service for all connections), as
# switch-to-configuration orders it: a changed running service is stopped with its socket,
# only the socket is started again and the next connection starts the new service; a changed
# socket stops the service it started and listens again; with stopIfChanged = false the
# service is restarted and the socket left alone. Asked of systemctl and of the sockets
# themselves. Skips (77) where no container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # GREETING PORT [PONG-VERSION PONG-PORT PONG-STOP-IF-CHANGED]
    ns_host <<EOF
  systemd.sockets.pong = {
    wantedBy = [ "sockets.target" ];
    listenStreams = [ "127.0.0.1:${4:-7101}" ];
  };
  systemd.services.pong = {
    script = "echo ${3:-p1} >/run/pong.version; exec sleep infinity";
    stopIfChanged = ${5:-true};
  };
  systemd.sockets.greet = {
    wantedBy = [ "sockets.target" ];
    listenStreams = [ "127.0.0.1:$2" ];
    socketConfig.Accept = true;
  };
  systemd.services."greet@" = {
    script = "echo $1";
    serviceConfig = { StandardInput = "socket"; StandardOutput = "socket"; };
  };
EOF
}
ask() { nsx timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; cat <&3"; }
# A connection to pong's socket (Accept = false: systemd starts pong.service for it).
knock() { nsx timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"; }
since() { nsx systemctl show -p ActiveEnterTimestampMonotonic --value "$1"; }

nspawn_boot
host hello-v1 7001
ns_switch "first switch" --backup-ext pre-flakectl
expect_eq "socket listening" active "$(unit_active greet.socket)"
expect_eq "listens where declared" "127.0.0.1:7001" "$(nsx systemctl show -p Listen --value greet.socket | cut -d' ' -f1)"
expect_eq "no service instance before a connection" "" "$(nsx systemctl list-units --plain --no-legend 'greet@*' | grep -v '^$' || true)"
expect_eq "a connection starts the service" hello-v1 "$(ask 7001)"
since=$(nsx systemctl show -p ActiveEnterTimestampMonotonic --value greet.socket)

host hello-v2 7001
ns_switch "service change"
expect_eq "the next connection gets the new service" hello-v2 "$(ask 7001)"
expect_eq "the unchanged socket was not restarted" "$since" "$(nsx systemctl show -p ActiveEnterTimestampMonotonic --value greet.socket)"

host hello-v2 7002
ns_switch "socket change"
expect_eq "socket restarted on the new port" "127.0.0.1:7002" "$(nsx systemctl show -p Listen --value greet.socket | cut -d' ' -f1)"
expect_eq "answers there" hello-v2 "$(ask 7002)"
if ask 7001 >/dev/null 2>&1; then fail "the old port still answers"; fi

# pong (Accept = false): one service behind its socket.
expect_eq "pong socket listening" active "$(unit_active pong.socket)"
expect_eq "pong not started by the switch" inactive "$(unit_active pong.service)"
knock 7101
nspawn_wait "a connection starts pong" 10 systemctl is-active -q pong.service
ns_file_is "pong v1" /run/pong.version p1
sock0=$(since pong.socket)

host hello-v2 7002 p2 7101
ns_switch "pong service change"
expect_eq "changed pong stopped, not started" inactive "$(unit_active pong.service)"
expect_eq "its socket listens again" active "$(unit_active pong.socket)"
[ "$(since pong.socket)" != "$sock0" ] || fail "pong's socket was not stopped and started with the service"
knock 7101
nspawn_wait "the next connection starts the new pong" 10 systemctl is-active -q pong.service
ns_file_is "pong v2" /run/pong.version p2

pid=$(unit_pid pong.service)
host hello-v2 7002 p2 7102
ns_switch "pong socket change"
expect_eq "pong socket on the new port" "127.0.0.1:7102" "$(nsx systemctl show -p Listen --value pong.socket | cut -d' ' -f1)"
expect_eq "the service it had started is stopped" inactive "$(unit_active pong.service)"
if knock 7101 2>/dev/null; then fail "pong's old port still accepts"; fi
knock 7102
nspawn_wait "a connection on the new port starts pong" 10 systemctl is-active -q pong.service
[ "$(unit_pid pong.service)" != "$pid" ] || fail "pong kept its process across the socket change"

sock0=$(since pong.socket)
host hello-v2 7002 p3 7102 false
ns_switch "stopIfChanged = false"
expect_eq "pong restarted at once" active "$(unit_active pong.service)"
ns_file_is "pong v3" /run/pong.version p3
expect_eq "its socket left alone" "$sock0" "$(since pong.socket)"
echo ok
