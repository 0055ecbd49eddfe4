#!/usr/bin/env bash
# nix_oracle.sh - the oracle wrapper (tests/lib/nix-oracle) itself: Nix's tools answer the same
# on a machine that has nothing but what scripts/install-deps.sh installs (no nixbld group,
# no /nix, no nix.conf), an answer that came with a warning is refused and blamed on the
# oracle, and no test, script or benchmark calls a Nix tool around the wrapper.
set -uo pipefail
source "$(dirname "$0")/lib/assert.sh"
source "$(dirname "$0")/lib/nix.bash"
have_nix || { echo "SKIP: nix-bin is not installed"; exit 77; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

# 1. A plain evaluation: the answer on stdout, nothing on stderr, whatever groups exist. As
#    root nix's compiled-in build-users-group is nixbld, which a fresh machine lacks.
run "$NIX_ORACLE" nix-instantiate --eval --strict -E '{ a = 1 + 1; }'
expect_rc 0
expect_eq "$OUT" "{ a = 2; }" "the oracle's answer"
expect_eq "$ERR" "" "the oracle's stderr"

# 2. A real local store under a directory of the test (what the cache tests use): as root
#    this is where nix checks build-users-group; the wrapper's settings must keep it quiet.
echo hello >"$work/f"
run env NIX_REMOTE="local?root=$work/nixroot" "$NIX_ORACLE" nix-store --add "$work/f"
expect_rc 0
expect_in OUT "-f"
expect_eq "$ERR" "" "stderr of nix-store --add into a local store"

# 3. An evaluation error is an answer: exit 1, the message on stderr, passed through.
run "$NIX_ORACLE" nix-instantiate --eval -E 'throw "boom"'
expect_rc 1
expect_in ERR "error: boom"
expect_not_in ERR "nix-oracle"

# 4. A warning makes the answer untrustworthy: exit 99 and a message that names the oracle.
run "$NIX_ORACLE" nix-instantiate --option no-such-setting 1 --eval -E '1'
expect_rc 99
expect_in ERR "misbehaved, not flakectl"
expect_in ERR "warning: unknown setting 'no-such-setting'"

# 5. The same from inside a test's command substitution: the whole test fails, naming the
#    oracle, even though $(...) runs in a subshell.
cat >"$work/t.sh" <<T
source "$FLAKECTL_SRC/tests/e2e/lib/nix.bash"
x=\$(nixo nix-instantiate --option no-such-setting 1 --eval -E '1')
echo "the test went on after a misbehaving oracle: '\$x'"
exit 0
T
run bash "$work/t.sh"
expect_rc 1
expect_in ERR "the oracle (nix) misbehaved, not flakectl"
expect_not_in OUT "went on"

# 6. The Python harnesses stop the same way.
run python3 -c "
import sys; sys.path.insert(0, '$FLAKECTL_SRC/tests/lang')
import nixdiff
nixdiff.run([nixdiff.ORACLE, 'nix-instantiate', '--option', 'no-such-setting', '1', '--eval', '-E', '1'], 30)
print('went on')"
expect_rc 1
expect_in OUT "the oracle misbehaved, not flakectl"
expect_not_in OUT "went on"

# 7. Nothing calls a Nix tool around the wrapper: a command word nix-instantiate, nix-store,
#    nix-hash, nix-build, nix-env or nix followed by an option, in a shell or Python file of
#    tests/ or scripts/, not in a comment, a string or an argument of the wrapper.
python3 - "$FLAKECTL_SRC" <<'PY' || fail "a Nix tool is called without tests/lib/nix-oracle (see above)"
import os, re, sys
root = sys.argv[1]
tool = re.compile(r"(?:^|[\s;&|(`])(?:[A-Z_]+=\S*\s+)*(nix-instantiate|nix-store|nix-hash|nix-build|nix-env|nix)\s+-")
allowed = re.compile(r"(nixo|nix-oracle\"?|oracle\"?|ORACLE\"?|--exec|exec)\s+(nix-instantiate|nix-store|nix-hash|nix-build|nix-env|nix)\s")
bad = []
for d in ("tests", "scripts"):
    for dirpath, _, files in os.walk(os.path.join(root, d)):
        for f in files:
            if not f.endswith((".sh", ".py", ".bash")) and f != "nix-oracle":
                continue
            p = os.path.join(dirpath, f)
            for n, line in enumerate(open(p, errors="replace"), 1):
                code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
                code = allowed.sub(" ", code)                  # calls through the wrapper
                code = re.sub(r"'[^']*'", "''", code)          # single-quoted strings
                code = re.sub(r'"(?!\$\()[^"]*"', '""', code)    # strings but $(...)
                if tool.search(code):
                    bad.append("%s:%d: %s" % (os.path.relpath(p, root), n, line.rstrip()))
for b in bad:
    print("direct Nix call: " + b)
sys.exit(1 if bad else 0)
PY
echo "ok: the oracle wrapper"
