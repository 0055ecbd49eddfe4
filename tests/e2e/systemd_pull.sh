#!/usr/bin/env bash
# systemd_pull.sh - services.flakectl.pull under a real systemd booted in systemd-nspawn: the
# switch installs and starts flakectl-pull.timer, whose service runs `flakectl pull` from a
# file:// cache on the timer; a newer pointer pushed into the cache (cache push --host
# --key) is then brought in by the timer alone, and the host's record says so. Every check
# asks systemd or the host's files, never flakectl's output. Skips (77) where no container
# can boot.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
# what the pull service said, shown when a check fails
trap 'st=$?; [ $st = 0 ] || nsx journalctl -u flakectl-pull.service --no-pager 2>/dev/null | tail -n 30 >&2
      nspawn_stop; rm -rf "$NS_DIR"' EXIT
ns_box_flake
nspawn_boot
fl_in cache keygen pull-1 -o /root/cache.sec
expect_eq "keygen" 0 "$rc"
pub=$out
# host VERSION: the configuration, pulling from /cache every 2 s
host() {
    ns_host <<EOF
  environment.etc."greeting".text = "$1\n";
  services.flakectl.pull = {
    enable = true;
    from = "file:///cache";
    trustedPublicKeys = [ "$pub" ];
    interval = "2s";
  };
  # systemd coalesces timers within a minute by default: the test cannot wait that long
  systemd.timers.flakectl-pull.timerConfig.AccuracySec = "1ms";
EOF
}
host v1
fl_in --flake /flake cache push --to file:///cache --key /root/cache.sec --host box
expect_eq "push v1" 0 "$rc"
fl_in --flake /flake switch --host box --backup-ext pre-flakectl
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch" 0 "$rc"
expect_eq "the timer runs" active "$(unit_active flakectl-pull.timer)"
script=$(unit_prop ExecStart flakectl-pull.service | sed 's/.*path=\([^ ;]*\).*/\1/')
expect_contains "the service runs flakectl pull" "'flakectl' 'pull' '--host' 'box' '--from' 'file:///cache'" \
    "$(nsx cat "$script")"
# the timer's first run applies the v1 pointer (nothing to change, the counter recorded)
nspawn_wait "the timer's pull recorded the pointer" 20 grep -q '"counter"' /var/lib/flakectl/host/status.json
expect_eq "the pull service succeeded" 0 "$(unit_prop ExecMainStatus flakectl-pull.service)"
expect_eq "v1 is active" v1 "$(nsx cat /etc/greeting)"

host v2
fl_in --flake /flake cache push --to file:///cache --key /root/cache.sec --host box
expect_eq "push v2" 0 "$rc"
counter=$(nsx sed -n 's/^Counter: //p' /cache/hosts/box)
nspawn_wait "the timer pulled v2" 30 grep -qx v2 /etc/greeting
nspawn_wait "the record names the v2 pointer" 10 grep -q "\"counter\": $counter" /var/lib/flakectl/host/status.json
rec=$(nsx cat /var/lib/flakectl/host/status.json)
expect_eq "record via" pull "$(jq -r .via <<<"$rec")"
expect_eq "record generation" 2 "$(jq -r .generation <<<"$rec")"
expect_eq "record error" null "$(jq -r .lastError <<<"$rec")"
expect_contains "the journal shows the pull" "pulled /var/lib/flakectl/store/" \
    "$(nsx journalctl -u flakectl-pull.service --no-pager)"
expect_eq "the timer still runs after its own switch" active "$(unit_active flakectl-pull.timer)"
echo "ok: flakectl-pull.timer pulled v2 from the cache"
