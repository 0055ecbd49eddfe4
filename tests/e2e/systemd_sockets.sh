#!/usr/bin/env bash
# systemd_sockets.sh - socket units against a real systemd in systemd-nspawn: the switch
# starts the socket (sockets.target wants it), not its service; a connection starts the
# service; a changed service behind an unchanged socket is used from the next connection on
# without restarting the socket; a changed socket (new port) is restarted and listens there.
# Asked of systemctl and of the sockets themselves. Skips (77) where no container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # GREETING PORT
    ns_host <<EOF
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

nspawn_boot
host hello-v1 7001
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch exit" 0 "$rc"
expect_eq "socket listening" active "$(unit_active greet.socket)"
expect_eq "listens where declared" "127.0.0.1:7001" "$(nsx systemctl show -p Listen --value greet.socket | cut -d' ' -f1)"
expect_eq "no service instance before a connection" "" "$(nsx systemctl list-units --plain --no-legend 'greet@*' | grep -v '^$' || true)"
expect_eq "a connection starts the service" hello-v1 "$(ask 7001)"
since=$(nsx systemctl show -p ActiveEnterTimestampMonotonic --value greet.socket)

host hello-v2 7001
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "service change exit" 0 "$rc"
expect_eq "the next connection gets the new service" hello-v2 "$(ask 7001)"
expect_eq "the unchanged socket was not restarted" "$since" "$(nsx systemctl show -p ActiveEnterTimestampMonotonic --value greet.socket)"

host hello-v2 7002
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "socket change exit" 0 "$rc"
expect_eq "socket restarted on the new port" "127.0.0.1:7002" "$(nsx systemctl show -p Listen --value greet.socket | cut -d' ' -f1)"
expect_eq "answers there" hello-v2 "$(ask 7002)"
if ask 7001 >/dev/null 2>&1; then fail "the old port still answers"; fi
echo ok
