# nix.bash - Nix 2.8's tools as oracles for the e2e tests and benchmarks (sourced): every call
# goes through tests/lib/nix-oracle, which fixes their environment and refuses an answer that
# came with a warning.
#
#   have_nix            # true when nix-bin is installed
#   nixo TOOL ARG...    # runs TOOL as the oracle; if the oracle misbehaved, the whole test
#                       # fails here, saying it was the oracle and not flakectl (even when
#                       # called inside $(...))
NIX_ORACLE=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)/lib/nix-oracle

have_nix() { command -v nix-instantiate >/dev/null 2>&1; }

# A command substitution cannot end the test itself, so it signals the test's shell.
trap 'echo "FAIL: the oracle (nix) misbehaved, not flakectl: see nix-oracle above" >&2; exit 1' USR1

nixo() {
    local rc=0
    "$NIX_ORACLE" "$@" || rc=$?
    if [ "$rc" -eq 99 ]; then
        kill -s USR1 $$
        exit 1
    fi
    return "$rc"
}
