#!/usr/bin/env bash
# Benchmark: encrypt and decrypt a SIZE_MB (default 100) MiB file with flakectl and with age
# in the same run, same X25519 key. Two rows each: to a file with -o (flakectl fsyncs its
# temporary and renames it into place; age writes in place without fsync) and to /dev/null
# (the format and crypto alone). Each timing is the best of RUNS (default 3), every run
# starting after a `sync` so one tool's dirty pages do not slow the next. Ratio is
# flakectl/age: below 1 means flakectl is faster.
# Usage: FLAKECTL=build/flakectl tests/bench/age.sh
set -euo pipefail
FLAKECTL=${FLAKECTL:-build/flakectl}
SIZE_MB=${SIZE_MB:-100}
RUNS=${RUNS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

age-keygen -o "$T/key.txt" 2>/dev/null
PUB=$(age-keygen -y "$T/key.txt")
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$T/plain"

best() { # command... -> best wall time in seconds
  local best="" t0 t1 dt
  for _ in $(seq "$RUNS"); do
    sync
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    dt=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
  done
  printf '%.3f' "$best"
}

fe=$(best "$FLAKECTL" secret encrypt -r "$PUB" -o "$T/fl.age" "$T/plain")
ae=$(best age -r "$PUB" -o "$T/age.age" "$T/plain")
fd=$(best "$FLAKECTL" secret decrypt -i "$T/key.txt" -o "$T/fl.out" "$T/age.age")
ad=$(best age -d -i "$T/key.txt" -o "$T/age.out" "$T/fl.age")
cmp -s "$T/fl.out" "$T/plain" && cmp -s "$T/age.out" "$T/plain" || { echo "outputs differ"; exit 1; }
to_null() { "$@" > /dev/null; }
fen=$(best to_null "$FLAKECTL" secret encrypt -r "$PUB" "$T/plain")
aen=$(best to_null age -r "$PUB" "$T/plain")
fdn=$(best to_null "$FLAKECTL" secret decrypt -i "$T/key.txt" "$T/age.age")
adn=$(best to_null age -d -i "$T/key.txt" "$T/fl.age")

printf 'age benchmark, %d MiB, best of %d (%s)\n' "$SIZE_MB" "$RUNS" "$(age --version)"
printf '%-20s %10s %10s %8s\n' op flakectl age ratio
row() { printf '%-20s %9ss %9ss %8.2f\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"; }
row "encrypt -o file" "$fe" "$ae"
row "decrypt -o file" "$fd" "$ad"
row "encrypt >/dev/null" "$fen" "$aen"
row "decrypt >/dev/null" "$fdn" "$adn"
