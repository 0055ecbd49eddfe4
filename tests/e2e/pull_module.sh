#!/usr/bin/env bash
# services.flakectl.pull as built (no init system runs here): on Linux the service runs
# `flakectl pull` with the options, quoted, and the timer has the interval; on macOS the
# launchd daemon's plist (launchd cannot run on Linux: the test checks the file only) has the
# command, StartInterval in seconds and a PATH; the module's checks stop a host without
# `from`, a cache without keys, allowed signers with a cache, or an interval launchd cannot
# use; allowedSigners become --allowed-signer arguments.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
fl() { "$FLAKECTL" --quiet --state-dir "$work/state" --flake "$work/flake" "$@"; }
mkdir flake
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts = {
  lin = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./pull.nix ]; };
  mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ./pull.nix ]; };
}; }; }
EOF
# pull.nix FROM KEYS INTERVAL
conf() {
    cat > flake/pull.nix <<EOF
{ ... }: { services.flakectl.pull = { enable = true; from = "$1"; trustedPublicKeys = [ $2 ];
  interval = "$3"; ref = "main"; extraArgs = [ "--mode" "boot" ]; }; }
EOF
}
conf "https://cache.example.org/a b" '"k-1:AAAA" "k-2:BBBB"' 90min
lin=$(fl build --no-link --host lin)
timer=$(cat "$lin/units/flakectl-pull.timer")
grep -qx "OnUnitActiveSec=90min" <<<"$timer" && grep -qx "WantedBy=timers.target" <<<"$timer" || fail "timer: $timer"
script=$(sed -n 's/^ExecStart=//p' "$lin/units/flakectl-pull.service")
grep -qx "exec 'flakectl' 'pull' '--host' 'lin' '--from' 'https://cache.example.org/a b' '--trusted-public-key' 'k-1:AAAA' '--trusted-public-key' 'k-2:BBBB' '--ref' 'main' '--mode' 'boot'" "$script" ||
    fail "service command: $(cat "$script")"
grep -q "Type=oneshot" "$lin/units/flakectl-pull.service" || fail "not a oneshot"
[ "$(jq -r '.units["flakectl-pull.service"].restartIfChanged' "$lin/profile.json")" = false ] || fail "the service would be restarted by its own activation"
echo "ok: Linux service and timer"

mac=$(fl build --no-link --host mac)
plist=$(cat "$mac/launchd/daemons/org.flakectl.pull.plist")
grep -q "<key>StartInterval</key><integer>5400</integer>" <<<"$plist" || fail "StartInterval: $plist"
grep -q "<string>exec 'flakectl' 'pull' '--host' 'mac' '--from' 'https://cache.example.org/a b'" <<<"$plist" || fail "command: $plist"
grep -q "<key>PATH</key><string>/usr/local/bin:/opt/homebrew/bin:" <<<"$plist" || fail "PATH: $plist"
[ ! -e "$mac/units/flakectl-pull.timer" ] || fail "a systemd timer on macOS"
echo "ok: macOS launchd daemon plist (built only)"

conf "" '"k-1:AAAA"' 1h
if fl build --no-link --host lin 2> err; then fail "an empty from was accepted"; fi
grep -q "services.flakectl.pull.from is not set" err || fail "empty from: $(cat err)"
conf "https://cache.example.org" '' 1h
if fl build --no-link --host lin 2> err; then fail "a cache without keys was accepted"; fi
grep -q "trustedPublicKeys is empty" err || fail "no keys: $(cat err)"
conf "git+https://git.example.org/x.git" '' 1h
fl build --no-link --host lin > /dev/null || fail "Git needs no keys"
cat > flake/pull.nix <<'EOF'
{ ... }: { services.flakectl.pull = { enable = true; from = "git+https://git.example.org/x.git";
  allowedSigners = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1Xh7Rk0cBfNKz6lq6kJd6lGEn3c5f0rK2nQzY4v3Jm alice" ]; }; }
EOF
lin=$(fl build --no-link --host lin)
script=$(sed -n 's/^ExecStart=//p' "$lin/units/flakectl-pull.service")
grep -q "'--allowed-signer' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1Xh7Rk0cBfNKz6lq6kJd6lGEn3c5f0rK2nQzY4v3Jm alice'" "$script" ||
    fail "allowed signers: $(cat "$script")"
sed -i 's|git+https://git.example.org/x.git|https://cache.example.org|; s|allowedSigners|trustedPublicKeys = [ "k-1:AAAA" ]; allowedSigners|' flake/pull.nix
if fl build --no-link --host lin 2> err; then fail "allowedSigners with a cache was accepted"; fi
grep -q "allowedSigners is for a Git source" err || fail "allowedSigners with a cache: $(cat err)"
conf "https://cache.example.org" '"k-1:AAAA"' "every day"
if fl build --no-link --host mac 2> err; then fail "a bad launchd interval was accepted"; fi
grep -q "interval \`every day' is not a span launchd can use" err || fail "interval: $(cat err)"
echo "ok: the module's checks"
