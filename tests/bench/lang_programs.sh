#!/usr/bin/env bash
# Benchmark: each program in tests/bench/programs/ evaluated by flakectl and by
# `nix-instantiate --eval --strict` in the same run. Checks both print the same value and
# reports wall time (best of N runs), CPU time (user+sys) and peak RSS of each, and the
# ratios (nix / flakectl: above 1 means flakectl is faster or smaller).
# Not a test: timing never decides pass/fail; exit status 1 only if the outputs differ.
# usage: tests/bench/lang_programs.sh [path/to/flakectl] [runs]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
flakectl=${1:-$here/../../build/flakectl}
runs=${2:-3}
command -v nix-instantiate >/dev/null || { echo "nix-instantiate not installed"; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed"; exit 2; }
oracle=$here/../lib/nix-oracle
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure CMD...: prints "wall cpu rss_kb" of the best (lowest wall) of $runs runs
measure() {
    local best="" line
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$@" >"$tmp/out" 2>/dev/null || true
        line=$(tail -1 "$tmp/t" | awk '{printf "%.2f %.2f %d", $1, $2 + $3, $4}')
        if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
            best=$line
        fi
    done
    echo "$best"
}

status=0
printf "%-22s %21s %21s %17s\n" "program" "nix wall/cpu/rss" "flakectl wall/cpu/rss" "ratio wall/cpu/rss"
for prog in "$here"/programs/*.nix; do
    name=$(basename "$prog" .nix)
    "$oracle" nix-instantiate --eval --strict "$prog" >"$tmp/nix.out" 2>&1 || true
    "$flakectl" eval --strict --file "$prog" >"$tmp/fl.out" 2>&1 || true
    same=same
    if ! cmp -s "$tmp/nix.out" "$tmp/fl.out"; then same=DIFFERENT; status=1; fi
    read -r nw nc nm <<<"$(measure "$oracle" --exec nix-instantiate --eval --strict "$prog")"
    read -r fw fc fm <<<"$(measure "$flakectl" eval --strict --file "$prog")"
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else printf "inf" }'; }
    printf "%-22s %6ss %5ss %6dK %6ss %5ss %6dK %5sx %5sx %5sx %s\n" "$name" "$nw" "$nc" "$nm" "$fw" "$fc" "$fm" \
        "$(ratio "$nw" "$fw")" "$(ratio "$nc" "$fc")" "$(ratio "$nm" "$fm")" "$same"
done
exit $status
