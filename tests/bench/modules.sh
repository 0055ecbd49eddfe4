#!/usr/bin/env bash
# modules.sh - module-system scaling: synthetic flakes of 100, 1000 and 5000 modules (each
# declaring options and defining others with mkIf, mkDefault, lists and submodules),
# evaluated by `flakectl eval --host X --json` and, as the peer, by nix-instantiate running
# the same module system (src/module/nix) over the same flake. Prints wall time, peak RSS
# and the ratios. Not a test: timings never decide pass/fail.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${FLAKECTL:-$here/build/flakectl}
sizes=${SIZES:-"100 1000 5000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"

gen() { # N DIR
  local n=$1 dir=$2
  mkdir -p "$dir/m"
  for ((i = 0; i < n; i++)); do
    cat >"$dir/m/$i.nix" <<NIX
{ config, lib, host, ... }:
let cfg = config.synth.m$i; in
{
  options.synth.m$i = {
    enable = lib.mkOption { type = lib.types.bool; default = $(( i % 3 == 0 )) == 1; };
    port = lib.mkOption { type = lib.types.port; default = $(( 1000 + i % 60000 )); };
    name = lib.mkOption { type = lib.types.str; default = "m$i"; };
    tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };
  config = lib.mkMerge [
    { synth.m$(( (i + 1) % n )).tags = [ "from-$i" ]; }
    (lib.mkIf cfg.enable {
      environment.variables.M$i = lib.mkDefault "\${cfg.name}:\${toString cfg.port}";
      users.users.u$i = { isSystemUser = true; group = "synth"; description = "user \${toString $i}"; };
      synth.m$(( (i + 7) % n )).name = lib.mkOverride 900 "renamed-by-$i";
    })
  ];
}
NIX
  done
  {
    echo '{ outputs = { self, ... }: { hosts.x = { system = "x86_64-linux"; platform = "nixos"; modules = ['
    for ((i = 0; i < n; i++)); do echo "  ./m/$i.nix"; done
    echo '  { users.groups.synth = { }; }'
    echo ']; }; }; }'
  } >"$dir/flake.nix"
}

measure() { # OUTFILE CMD... -> prints "ms kib cpu_ms" (cpu: user+sys, which a loaded
  # machine inflates far less than the wall time)
  local out=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >"$out" 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) $(tail -n 1 "$work/rss" | awk '{ printf "%d %d", $1, ($2 + $3) * 1000 }')"
}

bundled=$(ls "$here"/src/module/bundled/*.nix | tr '\n' ' ')
printf '%-8s %12s %12s %8s %14s %14s %8s %12s %12s\n' modules flakectl_ms nix_ms ratio flakectl_kib nix_kib ratio flakectl_cpu nix_cpu
for n in $sizes; do
  dir="$work/flake-$n"
  gen "$n" "$dir"
  # Warm the store once so the figure is evaluation, not the first build of generated files.
  "$FLAKECTL" --state-dir "$work/state" --flake "$dir" eval --host x --json >/dev/null
  read -r f_ms f_kib f_cpu < <(measure "$work/f.json" "$FLAKECTL" --state-dir "$work/state" --flake "$dir" eval --host x --json)
  "$FLAKECTL" --state-dir "$work/state" --flake "$dir" eval --host x synth --json >"$work/f-synth.json"
  expr="let r = import $here/src/module/nix/host.nix { flakeDir = $dir; hostName = \"x\"; bundledModules = [ $bundled ]; }; in r.config.synth"
  read -r n_ms n_kib n_cpu < <(measure "$work/n.json" "$here/tests/lib/nix-oracle" --exec nix-instantiate --eval --strict --json -E "$expr")
  echo >>"$work/n.json" # nix-instantiate --json ends without a newline; flakectl eval --host with one
  if ! cmp -s "$work/f-synth.json" "$work/n.json"; then
    echo "MISMATCH at $n modules: flakectl and nix-instantiate disagree on config.synth" >&2
    diff <(tr ',' '\n' <"$work/f-synth.json") <(tr ',' '\n' <"$work/n.json") | head -20 >&2
    exit 1
  fi
  printf '%-8s %12s %12s %8s %14s %14s %8s %12s %12s\n' "$n" "$f_ms" "$n_ms" \
    "$(awk -v a="$n_ms" -v b="$f_ms" 'BEGIN { printf "%.2fx", a / (b ? b : 1) }')" \
    "$f_kib" "$n_kib" "$(awk -v a="$n_kib" -v b="$f_kib" 'BEGIN { printf "%.2fx", a / (b ? b : 1) }')" \
    "$f_cpu" "$n_cpu"
done
echo "(flakectl: eval --host x --json, the whole profile, warm store; nix: config.synth of the same modules;"
echo " nix-instantiate runs the reference engine in src/module/nix/modules.nix; *_cpu: user+sys ms)"
