#!/usr/bin/env bash
# The whole suite, as CI runs it: install what is missing, then build and test twice, once
# with -Werror and once under ASan+UBSan. The last lines printed are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
# The cached Debian root (tests/fixtures/debian-root.sh) is made once per machine by
# debootstrap from the mirror. Made here, its minutes count against no test's timeout: the
# first test needing it would otherwise pay them inside its own 600 s (a fresh machine's
# e2e_darwin_activate timed out so). Where it cannot be made, those tests skip saying why.
bash tests/fixtures/debian-root.sh >/dev/null || true

cmake -S . -B build-asan -DFLAKECTL_SANITIZE=ON -DFLAKECTL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
asan_rc=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure || asan_rc=$?
echo "sanitizer run: exit $asan_rc"

cmake -S . -B build -DFLAKECTL_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
# The bundled example, checked the way a user's CI would (docs/ci/): every host evaluated
# and built, with the committed lock file only. The example's k3s is an upstream download
# this CI cannot reach, so the check runs on the copy the e2e tests use, whose k3s is a
# stand-in fetched through the same pkgs.fetchurl path (tests/e2e/lib/example.bash).
state=$(mktemp -d)
FLAKECTL_SRC=$PWD bash -c 'source tests/e2e/lib/example.bash && example_copy "$1"' _ "$state/example"
build/flakectl --flake "$state/example" --state-dir "$state/state" --no-write-lock-file check --keep-going
rm -rf "$state"
rc=0
ctest --test-dir build -j"$jobs" --output-on-failure || rc=$?
[ "$asan_rc" -eq 0 ] || { echo "the sanitizer run failed (see above)"; exit "$asan_rc"; }
exit "$rc"
