#!/usr/bin/env bash
# home_user_units_errors.sh - what the free-form home-manager sections of user units cannot
# have checked by their types stops the evaluation at the user's line (file:line:col): a
# target name that is not a unit name (it would become a path under ~/.config/systemd/user),
# a unit name likewise, and an X-SwitchMethod other than home-manager's four values. Nothing
# is built or activated. A valid one builds, with its .wants and .requires links.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
host_flake "$T/f"
fl() { "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" "$@"; }
unit() { # ATTRS (alice's systemd.user)
    cat >"$T/f/host.nix" <<NIX
{ ... }: {
  users.users.alice.isNormalUser = true;
  home-manager.users.alice.systemd.user = {
    $1
  };
}
NIX
}
# the column of WORD's first occurrence on line 4 (the unit's line)
col() { awk -v w="$1" 'NR == 4 { print index($0, w) }' "$T/f/host.nix"; }
refused() { # WHAT NEEDLE LINE:COL
    run_fl --flake "$T/f" --state-dir "$T/state" build --host h
    expect_eq "$1: exit" 1 "$rc"
    expect_contains "$1: message" "$2" "$err"
    expect_contains "$1: located" "$T/f/host.nix:$3" "$err"
}
unit 'services.hm = { Service.ExecStart = "/bin/true"; Install.WantedBy = [ "../../../etc" ]; };'
refused "target leaving the unit directory" "the target \`../../../etc' (wantedBy, Install.WantedBy or Install.RequiredBy) is not a systemd unit name" "4:$(col Install)"
unit 'timers.t = { Timer.OnActiveSec = "1s"; wantedBy = [ "a/b.target" ]; };'
refused "timer target with a slash" "the target \`a/b.target'" "4:$(col wantedBy)"
unit 'services.hm = { Service.ExecStart = "/bin/true"; Unit.X-SwitchMethod = "bounce"; };'
refused "X-SwitchMethod" "X-SwitchMethod is \`bounce'; home-manager's values are reload, restart, stop-start, keep-old" "4:$(col Unit)"
unit 'sockets.".hidden" = { listenStreams = [ "127.0.0.1:9" ]; };'
refused "unit name" "\`.hidden' is not a systemd unit name" "4:$(col sockets)"
[ ! -e "$T/state/store" ] || [ -z "$(ls "$T/state/store" | grep -- -flakectl-system-h)" ] || fail "a toplevel was built"

unit 'services.hm = { Service.ExecStart = "/bin/true"; Unit.X-SwitchMethod = "keep-old"; Install = { WantedBy = [ "default.target" ]; RequiredBy = [ "x.target" ]; }; };'
top=$(fl build --host h 2>"$T/err") || fail "a valid unit: $(cat "$T/err")"
u=$top/home/alice/.config/systemd/user
[ -L "$u/default.target.wants/hm.service" ] || fail "no .wants link"
[ -L "$u/x.target.requires/hm.service" ] || fail "no .requires link"
expect_eq "keep-old read" false "$(jq -r '.home.alice.units["hm.service"].restartIfChanged' "$top/profile.json")"
echo ok
