#!/usr/bin/env bash
# systemd_units.sh - units driven against a real systemd booted in systemd-nspawn: the first
# switch starts them, a change restarts, a reload-only change reloads, a removal stops, a
# timer fires, a unit started by hand is restarted on change, and a rollback brings the old
# command back (masked units, stopIfChanged, X-StopOnRemoval: systemd_nixos_rules.sh). Every
# check asks systemd (systemctl) what runs, never what flakectl printed. Skips (77) where no
# container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
# host WEB_VERSION RELOAD_TRIGGER EXTRA: writes the host's configuration.
host() {
    ns_host <<EOF
  systemd.services.web = {
    wantedBy = [ "multi-user.target" ];
    script = "echo $1 >/run/web.version; exec sleep infinity";
  };
  systemd.services.conf = {
    wantedBy = [ "multi-user.target" ];
    reloadTriggers = [ "$2" ];
    serviceConfig.ExecReload = "/bin/sh -c 'echo reloaded >>/run/conf.reloads'";
    script = "echo started >>/run/conf.starts; exec sleep infinity";
  };
  systemd.services.manual = {
    script = "echo $1 >/run/manual.version; exec sleep infinity";
  };
  $3
EOF
}
nspawn_boot
host v1 r1 'systemd.services.old = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };
  systemd.timers.tick = { wantedBy = [ "timers.target" ]; timerConfig = { OnActiveSec = "1s"; AccuracySec = "1ms"; }; };
  systemd.services.tick.script = "read -r up rest </proc/uptime; echo $up >>/var/lib/ticks";'
t0=$(date +%s%N)
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
t1=$(date +%s%N)
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch exit" 0 "$rc"
echo "first switch: $(((t1 - t0) / 1000000)) ms" >&2
for u in web conf old tick.timer; do expect_eq "$u running after the first switch" active "$(unit_active $u)"; done
expect_eq "a unit nothing wants is not started" inactive "$(unit_active manual)"
ns_file_is "web runs v1" /run/web.version v1
expect_contains "ExecStart is the store script" "/var/lib/flakectl/store/" "$(nsx systemctl show -p ExecStart web)"
nspawn_wait "the timer fired its service" 10 test -s /var/lib/ticks
# Fired by the timer (1 s after it started), not started by the switch with the timer.
timer_us=$(nsx systemctl show -p ActiveEnterTimestampMonotonic --value tick.timer)
tick_s=$(nsx head -n1 /var/lib/ticks)
delay_ms=$(awk -v t="$tick_s" -v a="$timer_us" 'BEGIN { printf "%d", t * 1000 - a / 1000 }')
[ "$delay_ms" -ge 900 ] || fail "tick.service ran ${delay_ms} ms after its timer started: started by the switch, not the timer"
expect_eq "boot-time unit installed and enabled" enabled "$(nsx systemctl is-enabled flakectl-boot.service)"

# A no-op switch changes nothing that runs.
pid_web=$(unit_pid web)
t0=$(date +%s%N)
fl_in --flake /flake switch --host box
t1=$(date +%s%N)
expect_contains "no-op switch" "nothing to do" "$out"
echo "no-op switch: $(((t1 - t0) / 1000000)) ms" >&2
expect_eq "no-op: web not restarted" "$pid_web" "$(unit_pid web)"

# Started by hand: restarted on change, as nixos-rebuild restarts every changed active unit.
nsx systemctl start manual
expect_eq "manual started by hand" active "$(unit_active manual)"
pid_manual=$(unit_pid manual) pid_conf=$(unit_pid conf)

# web and manual change (restart), conf's reload trigger changes (reload), old goes (stop).
host v2 r2 ''
t0=$(date +%s%N)
fl_in --flake /flake switch --host box
t1=$(date +%s%N)
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "second switch exit" 0 "$rc"
echo "switch restarting units: $(((t1 - t0) / 1000000)) ms" >&2
echo "$out" >&2
expect_eq "web restarted" active "$(unit_active web)"
ns_file_is "web runs v2" /run/web.version v2
[ "$(unit_pid web)" != "$pid_web" ] || fail "web kept its old process"
ns_file_is "manual (started by hand) restarted with v2" /run/manual.version v2
[ "$(unit_pid manual)" != "$pid_manual" ] || fail "manual kept its old process"
expect_eq "conf reloaded once" reloaded "$(nsx cat /run/conf.reloads)"
expect_eq "conf not restarted" "$pid_conf" "$(unit_pid conf)"
expect_eq "conf started once" started "$(nsx cat /run/conf.starts)"
expect_eq "old stopped" inactive "$(unit_active old)"
expect_eq "old's unit file gone" "not-found" "$(nsx systemctl show -p LoadState --value old.service)"
expect_eq "the timer went with its configuration" inactive "$(unit_active tick.timer)"

# Restart by hand, for the timing comparison.
t0=$(date +%s%N)
nsx systemctl restart web
t1=$(date +%s%N)
echo "systemctl restart web by hand: $(((t1 - t0) / 1000000)) ms" >&2

# Rollback: generation 1's web (v1), old back, the timer back.
fl_in rollback
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "rollback exit" 0 "$rc"
ns_file_is "web back to v1" /run/web.version v1
expect_eq "old running again" active "$(unit_active old)"
expect_eq "tick timer again" active "$(unit_active tick.timer)"
fl_in generations
expect_contains "generation 1 is current" "1" "$(echo "$out" | grep -i current)"
echo ok
