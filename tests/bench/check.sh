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

secs() { # command... -> wall time in seconds of one run
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
min() { printf '%s\n' "$@" | sort -g | head -n1; }

cold=() warm=() peer=()
for i in $(seq "$RUNS"); do
  export XDG_CACHE_HOME="$T/cache$i"
  cold+=("$(secs "$FLAKECTL" --flake "$SRC" --state-dir "$T/state$i" check)")
  warm+=("$(secs "$FLAKECTL" --flake "$SRC" --state-dir "$T/state$i" check)")
done
bundled=$(ls "$SRC"/src/module/bundled/*.nix | tr '\n' ' ')
nix_all() {
  for h in $HOSTS; do
    NIX_REMOTE=dummy:// nix-instantiate --eval --strict -E \
      "let r = import $SRC/src/module/nix/host.nix { flakeDir = $SRC; hostName = \"$h\"; bundledModules = [ $bundled ]; }; in r.config" \
      >/dev/null
  done
}
if command -v nix-instantiate >/dev/null; then
  for i in $(seq "$RUNS"); do peer+=("$(secs nix_all)"); done
fi
c=$(min "${cold[@]}") w=$(min "${warm[@]}")
printf 'flakectl check, bundled example (4 hosts), best of %s:\n' "$RUNS"
printf '  cold (fresh state dir):  %6.0f ms\n' "$(echo "$c * 1000" | bc -l)"
printf '  warm (second run):       %6.0f ms\n' "$(echo "$w * 1000" | bc -l)"
if [ "${#peer[@]}" -gt 0 ]; then
  p=$(min "${peer[@]}")
  printf '  nix-instantiate --eval --strict, 4 hosts via host.nix: %6.0f ms\n' "$(echo "$p * 1000" | bc -l)"
  printf '  ratio warm/nix: %.2f   cold/nix: %.2f\n' "$(echo "$w / $p" | bc -l)" "$(echo "$c / $p" | bc -l)"
fi
