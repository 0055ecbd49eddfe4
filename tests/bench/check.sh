#!/usr/bin/env bash
# Benchmark: `flakectl check` of the bundled example (all four hosts: evaluate, assertions,
# build every toplevel) cold (fresh --state-dir and module cache: everything is built and
# written) and warm (the same again: every store path is valid already), best of RUNS
# (default 3) each. Peer: nix-instantiate --eval --strict of every host's config through
# the same host.nix (as tests/e2e/module_hosts.sh does): evaluation only, no build, so the
# warm figure is the fair comparison. Ratio is flakectl/nix: below 1 means flakectl is faster.
# Usage: FLAKECTL=build/flakectl tests/bench/check.sh
set -euo pipefail
FLAKECTL=${FLAKECTL:-build/flakectl}
SRC=${FLAKECTL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNS=${RUNS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
HOSTS="homelab-node1 homelab-node2 macbook wsl"
# An offline-ready copy (its k3s is a file:// stand-in, tests/e2e/lib/example.bash): the
# pinned upstream k3s release would be downloaded by the cold runs otherwise.
FLAKECTL_SRC=$SRC
source "$SRC/tests/e2e/lib/example.bash"
example_copy "$T/example"
EX=$T/example

# secs command... -> "wall cpu" in seconds of one run (cpu = user + system, children
# included): on a loaded machine the CPU figure is the steadier one.
secs() {
  local f
  f=$(mktemp)
  /usr/bin/time -f "%e %U %S" -o "$f" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$f"
  rm -f "$f"
}
min() { printf '%s\n' "$@" | sort -g | head -n1; }
wall() { for x in "$@"; do echo "${x%% *}"; done; }
cpu() { for x in "$@"; do echo "${x##* }"; done; }

cold=() warm=() peer=()
for i in $(seq "$RUNS"); do
  export XDG_CACHE_HOME="$T/cache$i"
  cold+=("$(secs "$FLAKECTL" --flake "$EX" --state-dir "$T/state$i" check)")
  warm+=("$(secs "$FLAKECTL" --flake "$EX" --state-dir "$T/state$i" check)")
done
bundled=$(ls "$SRC"/src/module/bundled/*.nix | tr '\n' ' ')
cat >"$T/nix_all.sh" <<SH
for h in $HOSTS; do
  $SRC/tests/lib/nix-oracle --exec nix-instantiate --eval --strict -E \\
    "let r = import $SRC/src/module/nix/host.nix { flakeDir = $EX; hostName = \\"\$h\\"; bundledModules = [ $bundled ]; }; in r.config" \\
    >/dev/null || exit 1
done
SH
if command -v nix-instantiate >/dev/null; then
  for i in $(seq "$RUNS"); do peer+=("$(secs bash "$T/nix_all.sh")"); done
fi
ms() { echo "$1 * 1000" | bc -l; }
row() { # label wall-list... ; cpu from the same runs
  local label=$1; shift
  printf '  %-44s wall %6.0f ms   cpu %6.0f ms\n' "$label" "$(ms "$(min $(wall "$@"))")" "$(ms "$(min $(cpu "$@"))")"
}
printf 'flakectl check, bundled example (4 hosts), best of %s (load %s):\n' "$RUNS" "$(cut -d' ' -f1 /proc/loadavg)"
row "flakectl check, cold (fresh state dir)" "${cold[@]}"
row "flakectl check, warm (second run)" "${warm[@]}"
if [ "${#peer[@]}" -gt 0 ]; then
  row "nix-instantiate --eval --strict, 4 hosts" "${peer[@]}"
  w=$(min $(wall "${warm[@]}")) c=$(min $(wall "${cold[@]}")) p=$(min $(wall "${peer[@]}"))
  wc=$(min $(cpu "${warm[@]}")) pc=$(min $(cpu "${peer[@]}"))
  printf '  ratio flakectl/nix: warm %.2f (cpu %.2f), cold %.2f\n' "$(echo "$w / $p" | bc -l)" \
    "$(echo "$wc / $pc" | bc -l)" "$(echo "$c / $p" | bc -l)"
fi
