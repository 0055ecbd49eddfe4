#!/usr/bin/env bash
# systemd_nixos_rules.sh - switch-to-configuration's rules that flakectl follows, against a
# real systemd booted in systemd-nspawn (lib/nspawn.bash), asserted with systemctl and the
# units' own logs, never with flakectl's output:
#   - a unit the admin masked by hand (`systemctl mask`: /etc/systemd/system/U -> /dev/null)
#     that the configuration declares: the mask wins (systemd never starts a masked unit and
#     switch-to-configuration never unmasks one); the switch succeeds, leaves the link and
#     does not start it; once unmasked, the next switch installs the unit and starts it;
#   - stopIfChanged (default): a changed service is stopped with its old unit (its old
#     ExecStop) before the new unit is loaded, then started; stopIfChanged = false: restarted
#     once the new unit is loaded (the new ExecStop runs);
#   - unitConfig."X-StopOnRemoval" = false: a unit removed from the configuration keeps
#     running; without it a removed unit stops.
# Skips (77) where no container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
# host VERSION EXTRA
host() {
    ns_host <<EOF
  systemd.services.web = {
    wantedBy = [ "multi-user.target" ];
    script = "exec sleep infinity";
  };
  systemd.services.stopper = {
    wantedBy = [ "multi-user.target" ];
    script = "echo start $1 >>/run/stopper.log; exec sleep infinity";
    serviceConfig.ExecStop = "/bin/sh -c 'echo stop $1 >>/run/stopper.log'";
  };
  systemd.services.restarter = {
    wantedBy = [ "multi-user.target" ];
    stopIfChanged = false;
    script = "echo start $1 >>/run/restarter.log; exec sleep infinity";
    serviceConfig.ExecStop = "/bin/sh -c 'echo stop $1 >>/run/restarter.log'";
  };
  $2
EOF
}
keeper='systemd.services.keeper = { wantedBy = [ "multi-user.target" ]; unitConfig."X-StopOnRemoval" = false; script = "exec sleep infinity"; };
  systemd.services.goner = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };'

nspawn_boot
host v1 "$keeper"
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch" 0 "$rc"
for u in web stopper restarter keeper goner; do expect_eq "$u runs" active "$(unit_active $u)"; done
pid_web=$(unit_pid web) pid_keeper=$(unit_pid keeper)

# stopIfChanged, and X-StopOnRemoval: v2 changes stopper and restarter, drops keeper and goner.
host v2 ""
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "second switch" 0 "$rc"
expect_eq "stopper: stopped by its old unit, then started by the new" \
    "start v1,stop v1,start v2" "$(nsx cat /run/stopper.log | paste -sd,)"
expect_eq "restarter (stopIfChanged = false): restarted with the new unit" \
    "start v1,stop v2,start v2" "$(nsx cat /run/restarter.log | paste -sd,)"
expect_eq "a removed unit stops" inactive "$(unit_active goner)"
expect_eq "a removed unit with X-StopOnRemoval = false keeps running" active "$(unit_active keeper)"
expect_eq "... the same process" "$pid_keeper" "$(unit_pid keeper)"
expect_eq "its unit file is gone all the same" "" "$(nsx readlink /etc/systemd/system/keeper.service)"
expect_eq "web untouched" "$pid_web" "$(unit_pid web)"
nsx systemctl stop keeper

# A unit masked by hand that the configuration then declares: left masked, not started.
nsx systemctl mask extra.service >/dev/null 2>&1
expect_eq "masked by hand" /dev/null "$(nsx readlink /etc/systemd/system/extra.service)"
host v2 'systemd.services.extra = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };'
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch with a masked unit declared" 0 "$rc"
expect_eq "the mask stays" /dev/null "$(nsx readlink /etc/systemd/system/extra.service)"
expect_eq "systemd still calls it masked" masked "$(nsx systemctl is-enabled extra.service 2>/dev/null)"
expect_eq "the masked unit is not started" inactive "$(unit_active extra)"
expect_eq "web untouched by the masked unit" "$pid_web" "$(unit_pid web)"
fl_in --flake /flake switch --host box
expect_eq "switch again: exit" 0 "$rc"
expect_contains "switch again: nothing to do" "nothing to do" "$out"
expect_eq "still not started" inactive "$(unit_active extra)"

# Unmasked by hand: the next switch installs the unit and starts it.
nsx systemctl unmask extra.service >/dev/null 2>&1
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch after the unmask" 0 "$rc"
expect_contains "the unit file is flakectl's now" "/var/lib/flakectl/store/" "$(nsx readlink /etc/systemd/system/extra.service)"
expect_eq "the unmasked unit runs" active "$(unit_active extra)"
expect_eq "web still untouched" "$pid_web" "$(unit_pid web)"
echo ok
