#!/usr/bin/env bash
# lang.sh - the language benchmark: every tests/bench/lang/*.nix evaluated by flakectl
# (`$FLAKECTL eval --strict --file`, default build/flakectl of this checkout) and by
# `nix-instantiate --eval --strict` (Nix 2.8) in the same run, REPS times each (default 5).
# Checks that both print the same value, then prints one row per program:
#   wall time (median, ms) of each and flakectl/nix; CPU time (median, ms, every thread:
#   perf stat's task-clock; "-" without perf) of each and flakectl/nix; peak RSS (median,
#   KiB) of each and flakectl/nix. A ratio below 1 means flakectl is faster / smaller (the
#   goal is <= 0.50 for time and <= 1.00 for memory). On a machine busy with other work the
#   wall times include waiting for a processor; the CPU times do not. (getrusage's times are
#   counted in scheduler ticks and came out up to twice perf's on a loaded virtual machine.)
# The wall time is perf's duration_time, from the start to the end of the command: it once
# was taken around `perf stat`, whose own start-up (10-40 ms on a loaded machine) was then in
# both tools' figures and pulled every short program's ratio towards 1. Nix runs in
# nix-oracle's environment without nix-oracle's bash (`--print-env`; that bash was about
# 6 ms of nix's CPU time), and both tools start through the same `env`.
# Not a test: timing decides nothing here. Exit status 1 when a program fails or the two
# print different values, so the figures are never read off a wrong answer.
set -uo pipefail
here=$(cd -P "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
FLAKECTL=${FLAKECTL:-$root/build/flakectl}
REPS=${REPS:-5}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time (/usr/bin/time, Debian package 'time') is needed" >&2; exit 2; }
command -v nix-instantiate >/dev/null || { echo "nix-instantiate (nix-bin) is needed" >&2; exit 2; }
PERF=$(command -v perf || true)
[ -n "$PERF" ] && ! "$PERF" stat -x, -o /dev/null -e task-clock true 2>/dev/null && PERF=
[ -n "$PERF" ] || echo "note: no usable perf (Debian package linux-perf); CPU times are not measured" >&2
have_flakectl=1
[ -x "$FLAKECTL" ] || { echo "note: $FLAKECTL is not built; only nix is measured" >&2; have_flakectl=0; }

mapfile -d '' nix_cmd < <("$root/tests/lib/nix-oracle" --print-env nix-instantiate)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { grep -v '^-$' | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

# measure NAME OUTFILE CMD...: runs CMD REPS times from a scratch directory, appending
# "wall_ms rss_kib cpu_ms" lines to $tmp/NAME.runs; stdout of the first run goes to OUTFILE.
# Returns non-zero when any run fails.
measure() {
    local name=$1 out=$2 i start end rc label
    shift 2
    : >"$tmp/$name.runs"
    for ((i = 0; i < REPS; i++)); do
        start=$(date +%s%N)
        if [ -n "$PERF" ]; then
            (cd "$tmp" && "$PERF" stat -x, -o "$tmp/cpu" -e task-clock,duration_time -- "$TIME" -f %M -o "$tmp/rss" "$@" >"$tmp/out" 2>"$tmp/err")
        else
            (cd "$tmp" && "$TIME" -f %M -o "$tmp/rss" "$@" >"$tmp/out" 2>"$tmp/err")
        fi
        rc=$?
        end=$(date +%s%N)
        if [ "$rc" -ne 0 ]; then
            label=$([ "$name" = fl ] && echo flakectl || echo nix-instantiate)
            echo "  $label failed on $(basename "$prog") (exit $rc): $(head -n 3 "$tmp/err")" >&2
            return 1
        fi
        [ "$i" -eq 0 ] && cp "$tmp/out" "$out"
        cpu=- wall=$(((end - start) / 1000000))
        if [ -n "$PERF" ]; then
            cpu=$(awk -F, '$3 == "task-clock" { printf "%d\n", $1 }' "$tmp/cpu")
            wall=$(awk -F, '$3 == "duration_time" { printf "%d\n", $1 / 1000000 }' "$tmp/cpu")
        fi
        echo "${wall:--} $(tail -n1 "$tmp/rss") ${cpu:--}" >>"$tmp/$name.runs"
    done
}

status=0
printf '%-18s %12s %10s %7s %10s %10s %7s %14s %12s %7s\n' program flakectl_ms nix_ms ratio \
    fl_cpu_ms nix_cpu_ms ratio flakectl_KiB nix_KiB ratio
for prog in "$here"/lang/*.nix; do
    name=$(basename "$prog" .nix)
    measure nix "$tmp/nix.out" "${nix_cmd[@]}" --eval --strict "$prog" ||
        { status=1; continue; }
    fl_ms=- fl_cpu=- fl_kib=-
    if [ "$have_flakectl" -eq 1 ]; then
        if measure fl "$tmp/fl.out" env "$FLAKECTL" eval --strict --file "$prog"; then
            if ! cmp -s "$tmp/nix.out" "$tmp/fl.out"; then
                echo "  $name: flakectl and nix print different values:" >&2
                echo "    nix:      $(head -c 200 "$tmp/nix.out")" >&2
                echo "    flakectl: $(head -c 200 "$tmp/fl.out")" >&2
                status=1
            else
                fl_ms=$(cut -d' ' -f1 "$tmp/fl.runs" | median)
                fl_kib=$(cut -d' ' -f2 "$tmp/fl.runs" | median)
                fl_cpu=$(cut -d' ' -f3 "$tmp/fl.runs" | median)
            fi
        else
            status=1
        fi
    else
        status=1
    fi
    nix_ms=$(cut -d' ' -f1 "$tmp/nix.runs" | median)
    nix_kib=$(cut -d' ' -f2 "$tmp/nix.runs" | median)
    nix_cpu=$(cut -d' ' -f3 "$tmp/nix.runs" | median)
    printf '%-18s %12s %10s %7s %10s %10s %7s %14s %12s %7s\n' "$name" "$fl_ms" "$nix_ms" \
        "$(ratio "$fl_ms" "$nix_ms")" "$fl_cpu" "$nix_cpu" "$(ratio "$fl_cpu" "$nix_cpu")" \
        "$fl_kib" "$nix_kib" "$(ratio "$fl_kib" "$nix_kib")"
done
echo "(medians of $REPS runs; ratio = flakectl / nix; value: $(basename "$FLAKECTL") $( [ $status -eq 0 ] && echo 'matches nix on every program' || echo 'NOT checked or NOT matching everywhere, see above'))"
exit "$status"
