#!/usr/bin/env bash
# systemd_failure.sh - a unit that fails to start, against a real systemd in systemd-nspawn:
# the switch fails (exit 1, docs/exit-codes.md) naming the unit with its journal's last lines,
# the previous generation is restored with its units running again (asked of systemctl), a
# unit the failed generation added is stopped, and `flakectl generations` shows generation 1
# still current; a service that dies 0.2 s after its start is caught as well. Skips (77)
# where no container can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # WEB_SCRIPT EXTRA
    ns_host <<EOF
  systemd.services.web = { wantedBy = [ "multi-user.target" ]; script = "$1"; };
  systemd.services.db = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };
  $2
EOF
}

nspawn_boot
host 'echo v1 >/run/web.version; exec sleep infinity' ''
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
expect_eq "first switch exit" 0 "$rc"
ns_file_is "web runs v1" /run/web.version v1

# web now dies at once (a Type=simple service: systemctl restart itself succeeds); a new
# unit comes with it.
host 'echo v2 >/run/web.version; echo web-v2-cannot-bind-port >&2; exit 3' \
    'systemd.services.fresh = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };'
fl_in --flake /flake switch --host box
echo "$out" >&2
echo "$err" >&2
expect_eq "failed switch exit" 1 "$rc"
expect_contains "the step is named" "activation failed at step 'systemd units'" "$err"
expect_contains "the unit is named" "unit web.service failed" "$err"
expect_contains "the hint names the unit" "systemctl status web.service" "$err"
expect_contains "its journal lines are shown" "web-v2-cannot-bind-port" "$err"
expect_contains "what was restored is said" "restored /var/lib/flakectl/store/" "$err"
expect_eq "web running again" active "$(unit_active web)"
ns_file_is "web runs v1 again" /run/web.version v1
expect_contains "web's unit is generation 1's" "echo v1" "$(nsx sh -c 'cat $(systemctl show -p ExecStart --value web | sed "s/.*path=\([^ ;]*\).*/\1/")')"
expect_eq "db untouched and running" active "$(unit_active db)"
expect_eq "the added unit is stopped" inactive "$(unit_active fresh)"
expect_eq "the added unit is gone" not-found "$(nsx systemctl show -p LoadState --value fresh.service)"
expect_eq "no unit left failed" "" "$(nsx systemctl list-units --failed --plain --no-legend)"
fl_in generations
expect_contains "generation 1 is still current" "(current)" "$(echo "$out" | grep '^ *1 ')"
expect_not_contains "no generation 2" " 2 " "$(echo "$out" | grep -v '^current')"

# A fixed configuration then switches normally.
host 'echo v3 >/run/web.version; exec sleep infinity' ''
fl_in --flake /flake switch --host box
expect_eq "fixed switch exit" 0 "$rc"
ns_file_is "web runs v3" /run/web.version v3

# A service that dies a moment after it started (Type=simple: systemctl start has returned by
# then) is still caught: each started service is watched from its own start.
host 'echo v4 >/run/web.version; sleep 0.2; echo web-v4-died-late >&2; exit 5' ''
fl_in --flake /flake switch --host box
expect_eq "late death exit" 1 "$rc"
expect_contains "names the late death" "unit web.service failed" "$err"
ns_file_is "web back on v3" /run/web.version v3
expect_eq "web running again after the late death" active "$(unit_active web)"
echo ok
