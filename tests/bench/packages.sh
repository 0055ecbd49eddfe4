#!/usr/bin/env bash
# Benchmark: native packages in copies of the cached Debian 12 root (tests/fixtures/), peers in
# the same run.
#  1. No-op switch of a host declaring 50 native packages, all installed: flakectl reads dpkg's
#     status once and does nothing else (target: under 100 ms). Median of RUNS.
#  2. Installing 10 small packages: `flakectl --root R switch` (evaluation, build, plan with a
#     simulated install, one apt-get install) against one `chroot R apt-get install` of the
#     same list (the floor) and Ansible's apt module (`ansible -c chroot`, Debian's ansible).
#     Every copy starts with the same fresh lists and the .deb files already downloaded, so
#     the network is not measured; python3 and python3-apt are put into Ansible's copy
#     beforehand (its chroot connection needs them), untimed.
# Not a pass/fail test. Usage: FLAKECTL=build/flakectl bash tests/bench/packages.sh (as root)
set -euo pipefail
FLAKECTL=$(realpath "${FLAKECTL:-build/flakectl}")
FLAKECTL_SRC=${FLAKECTL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNS=${RUNS:-5}
export FLAKECTL_SRC
source "$FLAKECTL_SRC/tests/e2e/lib/debian-root.bash"
T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pkg-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }
ms() { echo "($2 - $1) * 1000" | bc -l | xargs printf '%.0f'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

FIFTY="hello sl jq figlet toilet cmatrix tree less file bc units pv pwgen dos2unix colordiff
  wdiff recode socat netcat whois ipcalc sipcalc lsof psmisc ncdu htop iftop nload bmon time
  zip unzip bzip2 zstd lz4 pigz cabextract screen tmux ed joe nano dialog entr hexedit xxd
  ugrep fzf jo cowsay"
TEN_ATTRS="hello sl jq figlet toilet cmatrix tree pv pwgen dos2unix"
TEN_APT="hello sl jq figlet toilet cmatrix tree pv pwgen dos2unix"

echo "preparing a template root (fresh lists, .debs downloaded)..."
debian_root_copy "$T/template"
rm -f "$T/template/etc/hostname"
chroot "$T/template" apt-get -qq update
# shellcheck disable=SC2086
chroot "$T/template" apt-get -qq -d install -y --no-install-recommends $TEN_APT python3 python3-apt >/dev/null
copy() { cp -a --reflink=auto "$T/template/." "$1/"; }
flake_with() {
  mkdir -p "$1"
  cat >"$1/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.box = { system = "x86_64-linux"; modules = [ ./packages.nix ]; }; }; }
NIX
  printf '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ %s ]; }\n' "$(echo $2)" >"$1/packages.nix"
  # A committed flake, as a user's is.
  git -C "$1" init -q && git -C "$1" add -A &&
    git -C "$1" -c user.name=bench -c user.email=bench@localhost commit -qm bench
}
export XDG_CACHE_HOME="$T/cache"

# ---- 1. no-op switch with 50 installed native packages
mkdir -p "$T/noop"
copy "$T/noop"
flake_with "$T/flake50" "$FIFTY"
"$FLAKECTL" --root "$T/noop" --state-dir "$T/state50" --flake "$T/flake50" switch --host box >"$T/noop.log" 2>&1 \
  || { tail -20 "$T/noop.log"; exit 1; }
installed=$(chroot "$T/noop" dpkg-query -W -f '${db:Status-Abbrev}\n' 2>/dev/null | grep -c '^ii' || true)
# The same host declaring no package, in a root of its own: today's no-op switch, the floor
# the package check adds to.
mkdir -p "$T/noop0"
copy "$T/noop0"
flake_with "$T/flake0" ""
"$FLAKECTL" --root "$T/noop0" --state-dir "$T/state0" --flake "$T/flake0" switch --host box >/dev/null 2>&1
# Wall time, and CPU time (user + system, from /usr/bin/time): on a loaded machine the wall
# time is mostly waiting for a core, the CPU time is what the switch costs.
noop_median() { # ROOT STATE FLAKE -> "WALL CPU" (ms, medians)
  local walls=() cpus=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$T/time" -f '%e %U %S' \
      "$FLAKECTL" --root "$1" --state-dir "$2" --flake "$3" switch --host box >"$T/noop2.log" 2>&1
    grep -q "nothing to do" "$T/noop2.log" || { cat "$T/noop2.log"; echo "not a no-op"; exit 1; }
    read -r w u sy <"$T/time"
    walls+=("$(echo "$w * 1000" | bc -l | xargs printf '%.0f')")
    cpus+=("$(echo "($u + $sy) * 1000" | bc -l | xargs printf '%.0f')")
  done
  echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median)"
}
read -r noop noop_cpu <<<"$(noop_median "$T/noop" "$T/state50" "$T/flake50")"
read -r noop0 noop0_cpu <<<"$(noop_median "$T/noop0" "$T/state0" "$T/flake0")"
# The floor of that: reading dpkg's status file once.
s=$(now); cat "$T/noop/var/lib/dpkg/status" >/dev/null; e=$(now)
echo
echo "no-op switch, 50 native packages declared ($installed packages in the root):"
printf '  flakectl switch (nothing to do)  %6s ms wall %5s ms CPU  (median of %s; target < 100 ms)\n' "$noop" "$noop_cpu" "$RUNS"
printf '  the same, no package declared    %6s ms wall %5s ms CPU  (the package check costs the difference)\n' "$noop0" "$noop0_cpu"
printf '  reading dpkg status once         %6s ms  (%s bytes)\n' "$(ms "$s" "$e")" "$(stat -c %s "$T/noop/var/lib/dpkg/status")"

# ---- 2. installing 10 small packages: flakectl vs apt-get vs ansible
flake_with "$T/flake10" "$TEN_ATTRS"
mkdir -p "$T/cache"
# Evaluate once so every timed flakectl run finds the module bundle extracted, as a user's
# second run would.
"$FLAKECTL" --flake "$T/flake10" --state-dir "$T/state-warm" build --host box --no-link >/dev/null
fl=() ap=() an=()
for i in $(seq "$RUNS"); do
  for who in fl ap an; do
    mkdir -p "$T/r-$who-$i"
    copy "$T/r-$who-$i"
  done
  # ansible's chroot connection runs python inside the root
  chroot "$T/r-an-$i" apt-get -qq install -y --no-install-recommends python3 python3-apt >/dev/null
  sync
  s=$(now)
  "$FLAKECTL" --root "$T/r-fl-$i" --state-dir "$T/state-fl-$i" --flake "$T/flake10" switch --host box >"$T/fl.log" 2>&1 \
    || { tail -20 "$T/fl.log"; exit 1; }
  e=$(now); fl+=("$(ms "$s" "$e")")
  sync
  s=$(now)
  # shellcheck disable=SC2086
  chroot "$T/r-ap-$i" env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends install $TEN_APT >"$T/ap.log" 2>&1
  e=$(now); ap+=("$(ms "$s" "$e")")
  sync
  if command -v ansible >/dev/null; then
    s=$(now)
    ANSIBLE_HOST_KEY_CHECKING=False ansible all -i "$T/r-an-$i," -c chroot -m apt \
      -a "name=$(echo $TEN_APT | tr ' ' ',') state=present install_recommends=no" >"$T/an.log" 2>&1 \
      || { tail -20 "$T/an.log"; exit 1; }
    e=$(now); an+=("$(ms "$s" "$e")")
  fi
  rm -rf "$T/r-fl-$i" "$T/r-ap-$i" "$T/r-an-$i"
done
flm=$(printf '%s\n' "${fl[@]}" | median)
apm=$(printf '%s\n' "${ap[@]}" | median)
echo
echo "installing 10 small packages ($TEN_APT), median of $RUNS:"
printf '  flakectl --root R switch     %6s ms\n' "$flm"
printf '  chroot R apt-get install     %6s ms   flakectl/apt-get = %s (target <= 1.2)\n' "$apm" \
  "$(echo "$flm / $apm" | bc -l | xargs printf '%.2f')"
if [ ${#an[@]} -gt 0 ]; then
  anm=$(printf '%s\n' "${an[@]}" | median)
  printf '  ansible -c chroot -m apt     %6s ms   flakectl/ansible = %s (target < 1)\n' "$anm" \
    "$(echo "$flm / $anm" | bc -l | xargs printf '%.2f')"
else
  echo "  ansible: not installed (scripts/install-deps.sh installs it)"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
