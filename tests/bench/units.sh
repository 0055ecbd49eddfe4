#!/usr/bin/env bash
# units.sh - services timings against a real systemd booted in systemd-nspawn, in one run:
# the container's boot, a first switch, a no-op switch, and a switch whose only change
# restarts one unit (`flakectl activate TOPLEVEL --mode switch`, prebuilt, so evaluation and
# build are not counted) beside `systemctl restart` of the same unit by hand. RUNS rounds
# (default 7), alternating the two, median and best of each, and the ratio. Not a test:
# timings never decide pass/fail. The switch also runs daemon-reload (its unit file changed)
# and watches the restarted Type=simple unit until it has run 300 ms (docs/services.md), so
# the by-hand `daemon-reload` + `restart` is printed beside it too.
# Usage: FLAKECTL=build/flakectl tests/bench/units.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export FLAKECTL=${FLAKECTL:-$here/build/flakectl} FLAKECTL_SRC=$here
RUNS=${RUNS:-7}
source "$here/tests/e2e/lib/expect.sh"
source "$here/tests/e2e/lib/nspawn.bash"
nspawn_setup
ns_box_flake
host() {
    cat >"$NS_DIR/flake/host.nix" <<EOF
{ ... }: {
  networking.hostName = "box";
  systemd.services.web = { wantedBy = [ "multi-user.target" ]; script = "echo $1; exec sleep infinity"; };
  systemd.services.db = { wantedBy = [ "multi-user.target" ]; script = "exec sleep infinity"; };
}
EOF
}
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%d %d\n", v[int((NR + 1) / 2)], v[1] }'; }

load0=$(cut -d' ' -f1 /proc/loadavg)
nspawn_boot
boot=$NS_BOOT_MS
host a
first=$(ms nsx flakectl --flake /flake switch --host box --backup-ext pre-flakectl)
A=$(nsx readlink -f /run/flakectl/current)
noop=$(ms nsx flakectl --flake /flake switch --host box)
host b
B=$(nsx flakectl --flake /flake build --host box --no-link)
: >"$NS_DIR/sw" && : >"$NS_DIR/hand" && : >"$NS_DIR/hand2"
for i in $(seq "$RUNS"); do
    target=$B; [ $((i % 2)) = 0 ] && target=$A
    ms nsx flakectl activate "$target" --mode switch >>"$NS_DIR/sw"
    ms nsx systemctl restart web >>"$NS_DIR/hand"
    # What a changed unit file needs by hand: reload the unit files, then restart.
    ms nsx sh -c 'systemctl daemon-reload && systemctl restart web' >>"$NS_DIR/hand2"
done
[ "$(nsx systemctl is-active web)" = active ] || fail "web is not running after the runs"
echo "switch runs (ms): $(tr "\n" " " <"$NS_DIR/sw")" >&2
read -r sw_med sw_best < <(stats <"$NS_DIR/sw")
read -r hand_med hand_best < <(stats <"$NS_DIR/hand")
read -r hand2_med hand2_best < <(stats <"$NS_DIR/hand2")
load1=$(cut -d' ' -f1 /proc/loadavg)
printf 'container boot (to "running")         %6d ms\n' "$boot"
printf 'first switch (eval, build, 2 units)   %6d ms\n' "$first"
printf 'no-op switch (eval included)          %6d ms\n' "$noop"
printf 'switch restarting one unit (prebuilt) %6d ms median, %d best\n' "$sw_med" "$sw_best"
printf 'systemctl restart by hand             %6d ms median, %d best\n' "$hand_med" "$hand_best"
printf 'daemon-reload + restart by hand        %6d ms median, %d best\n' "$hand2_med" "$hand2_best"
awk -v a="$sw_med" -v b="$hand_med" 'BEGIN { printf "ratio switch/systemctl restart        %6.1f\n", (b ? a / b : 0) }'
awk -v a="$sw_med" -v b="$hand2_med" 'BEGIN { printf "ratio switch/daemon-reload+restart    %6.1f\n", (b ? a / b : 0) }'
echo "load average $load0 before, $load1 after; $RUNS rounds"
