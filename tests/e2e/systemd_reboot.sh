#!/usr/bin/env bash
# systemd_reboot.sh - a reboot, then a switch, against a real systemd in systemd-nspawn.
# /run is a new tmpfs after a boot: the boot-time unit (flakectl-boot.service) re-creates
# /run/flakectl/current and the secrets there, and the first switch after the boot restarts a
# changed unit (it used to plan a `start`, a no-op on a running unit, leaving the old command
# running). Then secrets' restartUnits: a changed secret restarts its unit and nothing else.
# Every check asks systemd or the container's files. Skips (77) where no container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
flake=$NS_DIR/flake
ns_box_flake
host() { # WEB_VERSION
    ns_host <<EOF
  age.secrets.token = { file = ./token.age; restartUnits = [ "web.service" ]; };
  systemd.services.web = {
    wantedBy = [ "multi-user.target" ];
    script = "echo $1 >/run/web.version; cat /run/flakectl/secrets/token >/run/web.token; exec sleep infinity";
  };
  systemd.services.db = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };
EOF
}
mkdir -p "$NS_DIR/root/etc/ssh"
"$FLAKECTL" secret keygen -o "$NS_DIR/root/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
pub=$("$FLAKECTL" secret keygen -y "$NS_DIR/root/etc/ssh/ssh_host_ed25519_key")
T1="token-one-$RANDOM$RANDOM" T2="token-two-$RANDOM$RANDOM"
printf '%s' "$T1" | "$FLAKECTL" secret encrypt -r "$pub" -o "$flake/token.age"

nspawn_boot
host v1
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch exit" 0 "$rc"
ns_file_is "web runs v1" /run/web.version v1
ns_file_is "web read the token" /run/web.token "$T1"
gen1=$(nsx readlink -f /run/flakectl/current)

nspawn_reboot
expect_eq "boot-time unit ran" active "$(unit_active flakectl-boot.service)"
expect_eq "current re-created at boot" "$gen1" "$(nsx readlink -f /run/flakectl/current)"
expect_eq "secret re-installed at boot" "$T1" "$(nsx cat /run/flakectl/secrets/token)"
ns_file_is "web came up after the boot unit, with its secret" /run/web.token "$T1"
ns_file_is "web runs v1 after the reboot" /run/web.version v1

# Defect 1: the first switch after the reboot restarts the changed unit.
pid_web=$(unit_pid web) pid_db=$(unit_pid db)
host v2
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch after reboot exit" 0 "$rc"
expect_contains "planned as a restart" "restart  web.service" "$out"
ns_file_is "web runs v2" /run/web.version v2
[ "$(unit_pid web)" != "$pid_web" ] || fail "web kept its old process"
expect_eq "db untouched" "$pid_db" "$(unit_pid db)"

# Without the boot unit's work (current removed by hand, as on a machine switched by an older
# flakectl): the plan compares with the generation activated last, not with nothing.
nsx rm /run/flakectl/current
host v3
pid_web=$(unit_pid web)
fl_in --flake /flake switch --host box
expect_eq "switch without current exit" 0 "$rc"
expect_contains "says what it compares with" "comparing with" "$out"
ns_file_is "web runs v3" /run/web.version v3
[ "$(unit_pid web)" != "$pid_web" ] || fail "web kept its old process (v3)"

# restartUnits: only the secret changes; web restarts with it, db does not.
printf '%s' "$T2" | "$FLAKECTL" secret encrypt -r "$pub" -o "$flake/token.age"
pid_web=$(unit_pid web) pid_db=$(unit_pid db)
fl_in --flake /flake switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "secret switch exit" 0 "$rc"
expect_eq "secret changed" "$T2" "$(nsx cat /run/flakectl/secrets/token)"
ns_file_is "web restarted with the new secret" /run/web.token "$T2"
[ "$(unit_pid web)" != "$pid_web" ] || fail "web not restarted for its secret"
expect_eq "db untouched by the secret" "$pid_db" "$(unit_pid db)"
echo ok
