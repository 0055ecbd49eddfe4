#!/usr/bin/env bash
# systemd_switch_flags.sh - the unit flags switch-to-configuration reads, against a real
# systemd in systemd-nspawn: reloadIfChanged (X-ReloadIfChanged: a changed service is
# reloaded with the new unit's ExecReload, its process kept), RefuseManualStop and
# X-OnlyManualStart (a changed unit is not restarted; a removed RefuseManualStop unit is left
# running, systemd refusing `systemctl stop`), RefuseManualStart (systemd refuses `systemctl
# start`: the targets that want it start it, first and after a change), and a secret's
# restartUnits, which restarts a plain unit but, as switch-to-configuration does for the
# units an activation asks it to restart, leaves a restartIfChanged = false, RefuseManualStop
# or X-OnlyManualStart unit running and reloads a reloadIfChanged one. Asked of systemctl
# (MainPID, ExecStart, is-active) and of what the units wrote. Skips (77) where no container
# can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # VERSION [rms: declare the RefuseManualStop unit]
    local rms=
    [ -n "${2:-}" ] && rms="age.secrets.tok = { file = ./tok.age; restartUnits = [ \"rms.service\" \"keep.service\" \"oms.service\" \"rl.service\" \"plain.service\" ]; };
  systemd.services.rms = {
    wantedBy = [ \"multi-user.target\" ];
    unitConfig.RefuseManualStop = true;
    script = \"echo $1 >/run/rms.version; exec sleep infinity\";
  };"
    ns_host <<EOF
  systemd.services.rl = {
    wantedBy = [ "multi-user.target" ];
    reloadIfChanged = true;
    script = "echo $1 >/run/rl.version; exec sleep infinity";
    serviceConfig.ExecReload = "/bin/sh -c 'echo reload-$1 >>/run/rl.reloads'";
  };
  systemd.services.oms = {
    wantedBy = [ "multi-user.target" ];
    unitConfig."X-OnlyManualStart" = true;
    script = "echo $1 >/run/oms.version; exec sleep infinity";
  };
  systemd.services.keep = {
    wantedBy = [ "multi-user.target" ];
    restartIfChanged = false;
    script = "echo $1 >/run/keep.version; exec sleep infinity";
  };
  systemd.services.plain = {
    wantedBy = [ "multi-user.target" ];
    script = "echo $1 >/run/plain.version; exec sleep infinity";
  };
  systemd.services.rmst = {
    wantedBy = [ "multi-user.target" ];
    unitConfig.RefuseManualStart = "yes";
    script = "echo $1 >/run/rmst.version; exec sleep infinity";
  };
  $rms
EOF
}
mkdir -p "$NS_DIR/root/etc/ssh"
"$FLAKECTL" secret keygen -o "$NS_DIR/root/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
pub=$("$FLAKECTL" secret keygen -y "$NS_DIR/root/etc/ssh/ssh_host_ed25519_key")
printf 'one' | "$FLAKECTL" secret encrypt -r "$pub" -o "$NS_DIR/flake/tok.age"
execstart() { unit_prop ExecStart "$1" | sed 's/.*path=\([^ ;]*\).*/\1/'; }

nspawn_boot
host v1 rms
ns_switch "first switch" --backup-ext pre-flakectl
for u in rl oms rmst rms keep plain; do expect_eq "$u started" active "$(unit_active $u.service)"; done
ns_file_is "RefuseManualStart unit started (through its target)" /run/rmst.version v1
if nsx systemctl start rmst.service 2>/dev/null; then fail "systemd accepts a manual start of rmst; the test proves nothing"; fi

pid_rl=$(unit_pid rl.service) pid_oms=$(unit_pid oms.service) pid_rms=$(unit_pid rms.service) pid_rmst=$(unit_pid rmst.service)
pid_keep=$(unit_pid keep.service)
old_rl=$(execstart rl.service)
host v2 rms
ns_switch "change"
expect_eq "rl kept its process" "$pid_rl" "$(unit_pid rl.service)"
expect_eq "rl reloaded with the new unit's ExecReload" reload-v2 "$(nsx cat /run/rl.reloads)"
[ "$(execstart rl.service)" != "$old_rl" ] || fail "rl's new unit was not loaded (ExecStart unchanged)"
expect_eq "X-OnlyManualStart unit not restarted" "$pid_oms" "$(unit_pid oms.service)"
expect_eq "oms still runs v1" v1 "$(nsx cat /run/oms.version)"
expect_eq "RefuseManualStop unit not restarted" "$pid_rms" "$(unit_pid rms.service)"
expect_eq "restartIfChanged = false unit not restarted" "$pid_keep" "$(unit_pid keep.service)"
expect_eq "RefuseManualStart unit restarted" active "$(unit_active rmst.service)"
[ "$(unit_pid rmst.service)" != "$pid_rmst" ] || fail "rmst kept its old process"
ns_file_is "rmst runs v2" /run/rmst.version v2

# A changed secret whose restartUnits names every kind: the plain unit restarts; the
# RefuseManualStop unit (systemd would refuse the restart), the restartIfChanged = false and
# the X-OnlyManualStart ones are left running, as switch-to-configuration skips them; the
# reloadIfChanged one is reloaded. The switch succeeds.
pid_rl=$(unit_pid rl.service) pid_oms=$(unit_pid oms.service) pid_plain=$(unit_pid plain.service)
printf 'two' | "$FLAKECTL" secret encrypt -r "$pub" -o "$NS_DIR/flake/tok.age"
ns_switch "secret change"
expect_eq "secret changed" two "$(nsx cat /run/flakectl/secrets/tok)"
expect_contains "says why rms is not restarted" "secret tok changed, but RefuseManualStop = true: not restarted" "$out"
expect_contains "says why keep is not restarted" "secret tok changed, but restartIfChanged = false: not restarted" "$out"
expect_contains "says why oms is not restarted" "secret tok changed, but X-OnlyManualStart = true: not restarted" "$out"
expect_eq "RefuseManualStop unit not restarted for its secret" "$pid_rms" "$(unit_pid rms.service)"
expect_eq "restartIfChanged = false unit not restarted for its secret" "$pid_keep" "$(unit_pid keep.service)"
expect_eq "X-OnlyManualStart unit not restarted for its secret" "$pid_oms" "$(unit_pid oms.service)"
expect_eq "reloadIfChanged unit kept its process" "$pid_rl" "$(unit_pid rl.service)"
ns_file_is "reloadIfChanged unit reloaded for its secret" /run/rl.reloads "$(printf 'reload-v2\nreload-v2')"
[ "$(unit_pid plain.service)" != "$pid_plain" ] || fail "the plain unit was not restarted for its secret"
expect_eq "plain unit running" active "$(unit_active plain.service)"

# Removed: systemd would refuse `systemctl stop rms`; it is left running.
host v2
ns_switch "removal"
expect_eq "removed RefuseManualStop unit left running" "$pid_rms" "$(unit_pid rms.service)"
nsx test ! -e /etc/systemd/system/rms.service || fail "rms's unit file is still installed"
echo ok
