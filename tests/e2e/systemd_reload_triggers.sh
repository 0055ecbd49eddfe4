#!/usr/bin/env bash
# systemd_reload_triggers.sh - NixOS's check on a service with both reloadIfChanged and
# reloadTriggers (its systemd module lists it under `warnings`, so the configuration still
# builds): `build` and `check` print NixOS's text with where each of the two is defined
# (file:line:col in the user's module), and the host builds; reloadIfChanged alone, or
# reloadTriggers alone, says nothing.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/cli-test.bash"
fl() { "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" "$@"; }
cat >"$T/f/host.nix" <<'NIX'
{ ... }: {
  systemd.services.web = {
    script = "sleep 1";
    reloadIfChanged = true;
    reloadTriggers = [ "config-v1" ];
  };
  systemd.services.rl = { script = "sleep 1"; reloadIfChanged = true; };
  systemd.services.tr = { script = "sleep 1"; reloadTriggers = [ "x" ]; };
}
NIX
for cmd in build check; do
    fl $cmd --host h >"$T/out" 2>"$T/err" || fail "$cmd: exit $? ($(cat "$T/err"))"
    err=$(cat "$T/err")
    expect_contains "$cmd: NixOS's text" "warning: h: Service 'web.service' has both 'reloadIfChanged' and 'reloadTriggers' set. This is probably not what you want, because 'reloadTriggers' behave the same way as 'restartTriggers' if 'reloadIfChanged' is set." "$err"
    expect_contains "$cmd: where reloadIfChanged is defined" "reloadIfChanged at $T/f/host.nix:4:5" "$err"
    expect_contains "$cmd: where reloadTriggers is defined" "reloadTriggers at $T/f/host.nix:5:5" "$err"
    expect_not_contains "$cmd: reloadIfChanged alone" "'rl.service'" "$err"
    expect_not_contains "$cmd: reloadTriggers alone" "'tr.service'" "$err"
done
[ -e "$T/state/store" ] || fail "nothing was built"
finish systemd_reload_triggers
