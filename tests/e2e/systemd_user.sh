#!/usr/bin/env bash
# systemd_user.sh - home-manager users' systemd user services against real managers in a
# booted container (systemd-nspawn): the units land in ~/.config/systemd/user with their
# .wants links; without a user manager the switch says so and the units start with it
# (loginctl enable-linger); with one, a change restarts the unit through `systemctl --user`
# as the user, a unit the user masked is left masked and untouched (and installed and
# started again once unmasked), a removal stops it, and a failing one restores the previous
# generation.
# Asked of the user's manager (systemctl --user as alice). Skips (77) where no container can
# boot or no user manager can start.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() { # SERVICES
    ns_host <<EOF
  users.users.alice = { isNormalUser = true; uid = 1000; };
  home-manager.users.alice.systemd.user.services = { $1 };
EOF
}
as_alice() { nsx runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 "$@"; }
uactive() { as_alice systemctl --user is-active "$1" 2>/dev/null || true; }
upid() { as_alice systemctl --user show -p MainPID --value "$1"; }
hello() { echo "hello = { script = \"echo $1 >\$HOME/hello.version; exec sleep infinity\"; };"; }

nspawn_boot
host "$(hello v1)"
ns_switch "first switch" --backup-ext pre-flakectl
expect_contains "says no user manager runs" "no user manager runs" "$out"
expect_eq "unit file in alice's config" "$(nsx readlink /home/alice/.config/systemd/user/hello.service | cut -c1-24)" "/var/lib/flakectl/store/"
nsx test -L /home/alice/.config/systemd/user/default.target.wants/hello.service || fail "no .wants link"

# Her manager starts (lingering) and starts the unit itself.
nsx loginctl enable-linger alice
if ! nsx sh -c 'for i in $(seq 100); do systemctl is-active -q user@1000.service && exit 0; sleep 0.1; done; exit 1'; then
    nsx journalctl -u user@1000.service --no-pager | tail -5 >&2
    echo "SKIP: alice's user manager does not start in this container" >&2
    exit 77
fi
nspawn_wait "hello started by alice's manager" 10 runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user is-active -q hello.service
ns_file_is "hello v1" /home/alice/hello.version v1

pid=$(upid hello)
host "$(hello v2)"
ns_switch "change"
expect_eq "hello restarted" active "$(uactive hello)"
ns_file_is "hello v2" /home/alice/hello.version v2
[ "$(upid hello)" != "$pid" ] || fail "hello kept its old process"

# Masked by alice: the unit file is flakectl's link, so `systemctl --user mask` needs --force
# to replace it with /dev/null. The mask wins, as a system unit masked by hand: the switch
# leaves the link and the running unit alone; after `unmask` the next switch installs the
# unit file again and restarts the unit with it.
as_alice systemctl --user mask --force hello.service
expect_eq "masked by alice" masked "$(as_alice systemctl --user show -p LoadState --value hello.service)"
pid=$(upid hello)
host "$(hello v3)"
ns_switch "switch over a user mask"
expect_contains "says the mask is left" "masked by alice" "$out"
expect_eq "the mask stays" /dev/null "$(nsx readlink /home/alice/.config/systemd/user/hello.service)"
expect_eq "still masked" masked "$(as_alice systemctl --user show -p LoadState --value hello.service)"
expect_eq "the masked unit not restarted" "$pid" "$(upid hello)"
expect_eq "hello still v2" v2 "$(nsx cat /home/alice/hello.version)"
as_alice systemctl --user unmask hello.service
ns_switch "switch after unmask"
expect_eq "unit file installed again" "$(nsx readlink /home/alice/.config/systemd/user/hello.service | cut -c1-24)" "/var/lib/flakectl/store/"
nspawn_wait "hello v3 running" 10 grep -qx v3 /home/alice/hello.version
expect_eq "hello active" active "$(uactive hello)"
[ "$(upid hello)" != "$pid" ] || fail "hello kept its old process after the unmask"

# A failing new unit: the previous generation comes back, hello still v3 and running.
pid=$(upid hello)
host "$(hello v3) broken = { script = \"echo user-unit-broken-marker >&2; exit 4\"; };"
fl_in --flake /flake switch --host box
echo "$err" >&2
expect_eq "failing user unit exit" 1 "$rc"
expect_contains "names the unit" "unit broken.service failed" "$err"
# The manager's lines about the unit; its own stderr line can reach journald after the
# switch read the journal (a process that exits at once races its stream).
expect_contains "its journal" "broken.service: Main process exited, code=exited, status=4" "$err"
expect_contains "names the user" "user units of alice" "$err"
expect_eq "hello untouched" "$pid" "$(upid hello)"
nsx test ! -e /home/alice/.config/systemd/user/broken.service || fail "broken unit file left"

# Removal stops it.
host ''
ns_switch "removal"
expect_eq "hello stopped" inactive "$(uactive hello)"
nsx test ! -e /home/alice/.config/systemd/user/hello.service || fail "unit file left"
echo ok
