#!/usr/bin/env bash
# repeat-test.sh NAME [RUNS] - runs tests/e2e/NAME.sh RUNS times (default 10) on a loaded
# machine, the way a flaky test shows itself: every run niced, beside `stress-ng` keeping
# every core busy (CPU and disk; REPEAT_LOAD=0 runs without it). Prints a line per failed run
# with its last lines, keeps each failed run's whole output as $REPEAT_LOGS/NAME.N.log
# (default /var/tmp/flakectl-repeat), and ends with "NAME: P passed, F failed, S skipped";
# exit 1 when any run failed. Uses build/flakectl unless FLAKECTL is set; REPEAT_ENV adds
# environment (e.g. the sanitizer run's "ASAN_OPTIONS=detect_leaks=1" with build-asan).
# Not a CI stage: a tool for finding and checking fixes of timing assumptions.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
name=${1:?usage: repeat-test.sh NAME [RUNS]}
runs=${2:-10}
script=$src/tests/e2e/$name.sh
[ -f "$script" ] || { echo "repeat-test: no test $script" >&2; exit 2; }
export FLAKECTL=${FLAKECTL:-$src/build/flakectl} FLAKECTL_SRC=$src FLAKECTL_SHARED=$src/../shared
[ -x "$FLAKECTL" ] || { echo "repeat-test: build flakectl first ($FLAKECTL)" >&2; exit 2; }
# absolute: deployment tests put its directory on their targets' PATH
FLAKECTL=$(realpath "$FLAKECTL")
logs=${REPEAT_LOGS:-/var/tmp/flakectl-repeat}
mkdir -p "$logs"

load_pid=""
if [ "${REPEAT_LOAD:-1}" = 1 ]; then
    command -v stress-ng >/dev/null || { echo "repeat-test: stress-ng is not installed (apt-get install stress-ng, or REPEAT_LOAD=0)" >&2; exit 2; }
    scratch=$(mktemp -d /var/tmp/flakectl-repeat-load.XXXXXX)
    (cd "$scratch" && exec nice -n 15 stress-ng --cpu "$(nproc)" --hdd 1 --hdd-bytes 64M --timeout 0 \
        >/dev/null 2>&1) &
    load_pid=$!
    trap 'kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
fi

pass=0 failed=0 skipped=0
for i in $(seq 1 "$runs"); do
    log=$logs/$name.$i.log
    rc=0
    env ${REPEAT_ENV:-} nice -n 10 bash "$script" >"$log" 2>&1 </dev/null || rc=$?
    case $rc in
    0) pass=$((pass + 1)); rm -f "$log" ;;
    77) skipped=$((skipped + 1)); rm -f "$log" ;;
    *)
        failed=$((failed + 1))
        echo "run $i failed (exit $rc, $log):"
        tail -n 5 "$log" | sed 's/^/    /'
        ;;
    esac
done
echo "$name: $pass passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
