#!/usr/bin/env bash
# run.sh - runs every benchmark script in tests/bench/ (each *.sh but this one), one after
# the other, and exits non-zero when any of them does. Environment (FLAKECTL, REPS, ...) is
# passed through. Not part of ctest: benchmarks report figures, they do not pass or fail on time.
set -uo pipefail
here=$(cd -P "$(dirname "$0")" && pwd -P)
rc=0
for script in "$here"/*.sh; do
    [ "$(basename "$script")" = run.sh ] && continue
    echo "== $(basename "$script" .sh)"
    bash "$script"
    st=$?
    [ "$st" -eq 0 ] || { echo "== $(basename "$script" .sh) exited with status $st"; rc=1; }
done
exit "$rc"
