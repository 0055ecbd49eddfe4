#!/usr/bin/env bash
# startup.sh - the cost of starting flakectl: `flakectl eval --expr 1` against
# `nix-instantiate --eval -E 1` (Nix 2.8) in the same run, the small program
# tests/bench/lang/strings.nix with both, and `flakectl version` alone. Each command runs
# REPS times (default 50), interleaved, under `perf stat -e task-clock,duration_time` (CPU
# time of every thread, and the wall time of the command alone, without perf's own start-up). Nix runs in nix-oracle's environment but without nix-oracle's own
# bash (`nix-oracle --print-env`), which costs about as much as a short evaluation; both tools
# start through the same `env`, so that exec is in both figures. Prints the best and the
# median of each, and flakectl/nix of the medians. Not a test: timing decides nothing here.
# usage: [REPS=50] tests/bench/startup.sh [path/to/flakectl]   (default: build/flakectl)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${1:-${FLAKECTL:-$src/build/flakectl}}
REPS=${REPS:-50}
command -v perf >/dev/null && perf stat -x, -o /dev/null -e task-clock true 2>/dev/null ||
    { echo "perf (Debian package linux-perf) with task-clock is needed" >&2; exit 2; }
[ -x "$FLAKECTL" ] || { echo "$FLAKECTL is not built" >&2; exit 2; }
mapfile -d '' nixenv < <("$src/tests/lib/nix-oracle" --print-env nix-instantiate) ||
    { echo "nix-instantiate (nix-bin) is needed" >&2; exit 2; }
nix=("${nixenv[@]}")
fl=(env "$FLAKECTL")
strings=$src/tests/bench/lang/strings.nix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the answers first: a figure is never read off a failing run
[ "$("${fl[@]}" eval --expr 1)" = 1 ] && [ "$("${nix[@]}" --eval -E 1)" = 1 ] ||
    { echo "eval of 1 failed" >&2; exit 1; }
cmp -s <("${fl[@]}" eval --strict --file "$strings") <("${nix[@]}" --eval --strict "$strings") ||
    { echo "flakectl and nix print different values for $strings" >&2; exit 1; }

# run NAME CMD...: one timed run, appending "wall_us cpu_us" to $tmp/NAME
run() {
    local name=$1
    shift
    perf stat -x, -o "$tmp/perf" -e task-clock,duration_time -- "$@" >/dev/null 2>&1 ||
        { echo "$name failed" >&2; exit 1; }
    awk -F, '$3 == "duration_time" { w = $1 / 1000 } $3 == "task-clock" { c = $1 * 1000 }
        END { printf "%d %d\n", w, c }' "$tmp/perf" >>"$tmp/$name"
}
for ((i = 0; i < REPS; i++)); do
    run fl1 "${fl[@]}" eval --expr 1
    run nix1 "${nix[@]}" --eval -E 1
    run flstr "${fl[@]}" eval --strict --file "$strings"
    run nixstr "${nix[@]}" --eval --strict "$strings"
    run flver "${fl[@]}" version
done

# stat NAME COLUMN: "best median" in ms
stat() {
    cut -d' ' -f"$2" "$tmp/$1" | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[1] / 1000, v[int((NR + 1) / 2)] / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
printf '%-28s %9s %9s %9s %9s\n' command cpu_best cpu_med wall_best wall_med
for n in fl1 nix1 flstr nixstr flver; do
    case $n in
    fl1) label="flakectl eval --expr 1" ;; nix1) label="nix-instantiate --eval -E 1" ;;
    flstr) label="flakectl strings.nix" ;; nixstr) label="nix-instantiate strings.nix" ;;
    flver) label="flakectl version" ;;
    esac
    read -r cb cm < <(stat "$n" 2)
    read -r wb wm < <(stat "$n" 1)
    printf '%-28s %9s %9s %9s %9s\n' "$label" "$cb" "$cm" "$wb" "$wm"
    eval "${n}_cpu=$cm ${n}_wall=$wm"
done
echo "ratio flakectl/nix (medians): eval 1: CPU $(ratio "$fl1_cpu" "$nix1_cpu"), wall" \
    "$(ratio "$fl1_wall" "$nix1_wall"); strings.nix: CPU $(ratio "$flstr_cpu" "$nixstr_cpu")," \
    "wall $(ratio "$flstr_wall" "$nixstr_wall")"
echo "($REPS runs each, interleaved; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
