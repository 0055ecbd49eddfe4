#!/usr/bin/env bash
# security_pending_activation.sh - a deployment's pending root (gcroots/pending/<id>) while
# its activation runs: `deploy-agent activate --pending ID` ties the record to its process,
# so a gc during a slow or paused activation keeps the record and every path it names even
# when the record is far older than FL_STORE_PENDING_MAX_AGE (an hour); once the activating
# process is killed, the record is an ordinary stale one and gc drops it, saying why, with
# the paths only it kept. The activation is held by an activation script that waits; the
# extra path stands for a copied path nothing else roots yet.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
T=$(mktemp -d)
agent=
cleanup() { [ -n "$agent" ] && kill -KILL -- "-$agent" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
S=$T/state R=$T/root
mkdir -p "$R"
fl() { "$FLAKECTL" --flake "$T/f" --state-dir "$S" --root "$R" "$@"; }
host_flake "$T/f"
cat >"$T/f/host.nix" <<'NIX'
{ ... }: {
  environment.etc.greeting.text = "hello\n";
  system.activationScripts.slow = ''
    touch "$FLAKECTL_ROOT/activation-paused"
    exec sleep 300
  '';
}
NIX
top=$(fl build --host h 2>"$T/err") || fail "build: $(cat "$T/err")"
echo "copied, rooted by nothing else yet" >"$T/extra"
extra=$(fl store add "$T/extra") || fail "store add"
run_fl --state-dir "$S" store query-valid --pending dep1 "$top" "$extra"
expect_eq "query-valid" 0 "$rc"
rec=$S/gcroots/pending/dep1
[ -f "$rec" ] || fail "no pending record"

# The activation, in a process group of its own, paused in its activation script.
setsid "$FLAKECTL" --state-dir "$S" --root "$R" deploy-agent activate --pending dep1 \
    --mode switch "$top" >"$T/agent.out" 2>&1 &
agent=$!
for _ in $(seq 300); do [ -e "$R/activation-paused" ] && break; sleep 0.1; done
[ -e "$R/activation-paused" ] || fail "the activation did not reach its script: $(cat "$T/agent.out")"

# Two hours old by its mtime, but its activation runs: kept, with the extra path.
touch -d '2 hours ago' "$rec"
run_fl --state-dir "$S" --root "$R" gc
expect_eq "gc during the activation" 0 "$rc"
expect_not_contains "not called stale" "pending root dep1" "$out"
[ -f "$rec" ] || fail "gc dropped the pending record of a running activation"
[ -e "$S/store/${extra##*/}" ] || fail "gc deleted a path the running activation's record names"
# Paused (SIGSTOP) rather than slow: the same.
kill -STOP "$agent"
run_fl --state-dir "$S" --root "$R" gc
[ -e "$S/store/${extra##*/}" ] || fail "gc deleted the path while the activation was stopped"
kill -CONT "$agent"

# The activating process is killed: the record is stale, gc drops it and says why.
kill -KILL -- "-$agent"
wait "$agent" 2>/dev/null
agent=
run_fl --state-dir "$S" --root "$R" gc --dry-run
expect_contains "dry run" "would drop stale pending root dep1 (its activating process is gone;" "$out"
[ -e "$S/store/${extra##*/}" ] || fail "gc --dry-run deleted the path"
run_fl --state-dir "$S" --root "$R" gc
expect_contains "gc drops the record" "dropping stale pending root dep1 (its activating process is gone;" "$out"
[ ! -e "$rec" ] || fail "the record of a killed activation stayed"
[ ! -e "$rec.lock" ] || fail "its lock file stayed"
[ ! -e "$S/store/${extra##*/}" ] || fail "the path only the record kept stayed"
# The interrupted activation keeps its own toplevel rooted until the next one finishes it.
[ -f "$S/store/${top##*/}/profile.json" ] || fail "gc deleted the interrupted activation's toplevel"
echo ok
