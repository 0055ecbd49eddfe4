#!/usr/bin/env bash
# nix-as-flakectl.sh - nix-instantiate dressed up as "flakectl eval", ONLY for the runner's
# self-test (selftest.sh): it shows that run.sh passes what Nix does and reports what Nix
# does not do (the error locations Nix 2.8 does not give). Never the thing under test.
#   nix-as-flakectl.sh eval [--strict] [--json] (--expr E | --file F)
set -uo pipefail
[ "${1:-}" = eval ] || { echo "error: only 'eval' is emulated" >&2; exit 2; }
shift
flags=()
target=()
while [ $# -gt 0 ]; do
    case $1 in
        --strict | --json) flags+=("$1") ;;
        --expr) target=(-E "$2"); shift ;;
        --file) target=("$2"); shift ;;
        *) echo "error: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#target[@]} -gt 0 ] || { echo "error: --expr or --file is required" >&2; exit 2; }
exec "$(dirname "$0")/../lib/nix-oracle" nix-instantiate --eval "${flags[@]}" "${target[@]}"
