#!/usr/bin/env bash
# Benchmark: encrypt and decrypt a SIZE_MB (default 256) MiB file with flakectl and with age
# in the same run, same X25519 key. Two rows each: to a file with -o (flakectl makes its
# output durable before renaming it into place — writeback started every 8 MiB as it goes,
# then fsync and rename; age writes in place without fsync)
# and to /dev/null (the format and crypto alone). The tools alternate within each of RUNS
# (default 5) rounds, every timing starting after a `sync`, so a load that drifts during the
# run weighs on both alike; best and median are shown, with the load average before and
# after (the build machine is shared). Ratio is flakectl/age: below 1 means flakectl is
# faster.
# Usage: FLAKECTL=build/flakectl tests/bench/age.sh
set -euo pipefail
FLAKECTL=${FLAKECTL:-build/flakectl}
SIZE_MB=${SIZE_MB:-256}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
T=$(mktemp -d "$DIR/age-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

age-keygen -o "$T/key.txt" 2>/dev/null
PUB=$(age-keygen -y "$T/key.txt")
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$T/plain"
age -r "$PUB" -o "$T/ref.age" "$T/plain"

to_null() { "$@" > /dev/null; }
declare -A cmd=(
  [fe]="$FLAKECTL secret encrypt -r $PUB -o $T/fl.age $T/plain"
  [ae]="age -r $PUB -o $T/age.age $T/plain"
  [fd]="$FLAKECTL secret decrypt -i $T/key.txt -o $T/fl.out $T/ref.age"
  [ad]="age -d -i $T/key.txt -o $T/age.out $T/ref.age"
  [fen]="to_null $FLAKECTL secret encrypt -r $PUB $T/plain"
  [aen]="to_null age -r $PUB $T/plain"
  [fdn]="to_null $FLAKECTL secret decrypt -i $T/key.txt $T/ref.age"
  [adn]="to_null age -d -i $T/key.txt $T/ref.age"
)
order=(fe ae fd ad fen aen fdn adn)
declare -A times
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do
  for k in "${order[@]}"; do
    sync
    t0=$(date +%s.%N)
    ${cmd[$k]}
    t1=$(date +%s.%N)
    times[$k]+="$(echo "$t1 - $t0" | bc -l) "
  done
done
cmp -s "$T/fl.out" "$T/plain" && cmp -s "$T/age.out" "$T/plain" || { echo "outputs differ"; exit 1; }
age -d -i "$T/key.txt" "$T/fl.age" | cmp -s - "$T/plain" || { echo "age cannot read flakectl's file"; exit 1; }

best() { tr ' ' '\n' <<< "${times[$1]}" | grep . | sort -g | head -1; }
median() { tr ' ' '\n' <<< "${times[$1]}" | grep . | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf 'age benchmark, %d MiB, %d rounds (%s); load average %s before, %s after\n' \
  "$SIZE_MB" "$RUNS" "$(age --version)" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-20s %21s %21s %15s\n' "" "flakectl best/median" "age best/median" "ratio b/m"
row() {
  local fb fm ab am
  fb=$(best "$2"); fm=$(median "$2"); ab=$(best "$3"); am=$(median "$3")
  printf '%-20s %9.3fs /%7.3fs %9.3fs /%7.3fs %6.2f /%6.2f\n' "$1" "$fb" "$fm" "$ab" "$am" \
    "$(echo "$fb / $ab" | bc -l)" "$(echo "$fm / $am" | bc -l)"
}
row "encrypt -o file" fe ae
row "decrypt -o file" fd ad
row "encrypt >/dev/null" fen aen
row "decrypt >/dev/null" fdn adn
