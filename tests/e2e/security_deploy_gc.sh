#!/usr/bin/env bash
# security_deploy_gc.sh - gc on a deploy target while a deployment is between its copy and
# its activation (issue 20, finding 2, on remote targets). The target (a real sshd with its
# own store, lib/deploy.sh) runs `flakectl gc` right before every `store import` batch and
# right before `deploy-agent activate`: the windows in which a gc timer or an admin on the
# target can run. The closure is two batches (two 17 MB paths, batches are 16 MiB), so gc
# also runs between batches, when the first batch's paths are referenced by nothing yet.
# The copy's pending root (gcroots/pending/<id>) keeps every path of the closure from the
# first query-valid until the activation ends: the deploy succeeds, gc really deleted other
# garbage each time, and the record is gone afterwards. A deploy that stops after the copy
# keeps its paths rooted until the record has gone an hour without renewal; then gc drops
# the record and the paths.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
wrap=$DEPLOY_WORK/wrap
mkdir -p "$wrap"
# The target's flakectl, a wrapper that runs gc first at the windows above (and refuses the
# activation while $DEPLOY_WORK/stop-before-activate exists: a deployer gone after the copy).
cat >"$wrap/flakectl" <<EOF
#!/bin/sh
case "\$1 \$2" in
"store import"|"deploy-agent activate")
    { echo "gc before \$1 \$2"; "$FLAKECTL" gc; } >>"$DEPLOY_WORK/gc.log" 2>&1 ;;
esac
if [ "\$1 \$2" = "deploy-agent activate" ] && [ -e "$DEPLOY_WORK/stop-before-activate" ]; then
    echo "the deployer went away" >&2
    exit 1
fi
exec "$FLAKECTL" "\$@"
EOF
chmod +x "$wrap/flakectl"
DEPLOY_TARGET_PATH=$wrap deploy_target_start n1
T=$SSHD_TARGET
tstate=$DEPLOY_WORK/targets/n1/state
troot=$DEPLOY_WORK/targets/n1/root
deploy_write_flake "n1 $T \"web\""
host() { # TAG
    cat >"$DEPLOY_FLAKE/n1.nix" <<EOF
{ pkgs, ... }: {
  networking.hostName = "n1";
  environment.etc."greeting".text = "$1\n";
  environment.systemPackages = [
    (pkgs.runCommand "big-a-$1" { } "mkdir -p \$out/share; head -c 17000000 /dev/urandom >\$out/share/a")
    (pkgs.runCommand "big-b-$1" { } "mkdir -p \$out/share; head -c 17000000 /dev/urandom >\$out/share/b")
  ];
}
EOF
}
# Garbage on the target that any gc deletes: proof that each gc in the windows really ran.
plant_garbage() {
    run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key -- \
        sh -c 'echo "junk $$" >/tmp/fl-junk-$$ && flakectl store add /tmp/fl-junk-$$ && rm /tmp/fl-junk-$$'
    expect_eq "garbage added on the target" 0 "$rc"
    junk=$out
    [ -e "$tstate/store/${junk##*/}" ] || fail "the garbage path $junk is not in the target's store"
}

host v1
plant_garbage
: >"$DEPLOY_WORK/gc.log"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
[ "$rc" = 0 ] || { cat "$DEPLOY_WORK/gc.log" >&2; fail "deploy with gc in the windows failed: $out $err"; }
expect_contains "activated" "[n1] generation 1 is the default" "$out"
imports=$(grep -c "gc before store import" "$DEPLOY_WORK/gc.log")
[ "$imports" -ge 2 ] || fail "gc ran before $imports import batches (the closure should need 2)"
expect_contains "gc ran before the activation" "gc before deploy-agent activate" "$(cat "$DEPLOY_WORK/gc.log")"
[ ! -e "$tstate/store/${junk##*/}" ] || fail "gc on the target did not delete the garbage $junk"
expect_eq "greeting on the target" "v1" "$(cat "$troot/etc/static/greeting")"
top=$(readlink "$troot/run/flakectl/current")
[ -f "$tstate/store/${top##*/}/profile.json" ] || fail "the toplevel $top is gone from the target"
expect_eq "no pending root left after the activation" "" "$(ls -A "$tstate/gcroots/pending" 2>/dev/null)"
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl store verify
expect_eq "target store verifies" 0 "$rc"

# A deployment that ends after its copy (the deployer gone): its record keeps the closure.
host v2
touch "$DEPLOY_WORK/stop-before-activate"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "deploy stopped before the activation" 1 "$rc"
rm "$DEPLOY_WORK/stop-before-activate"
rec=$(ls "$tstate/gcroots/pending")
[ -n "$rec" ] && [ "$(wc -l <<<"$rec")" = 1 ] || fail "expected one pending record, got [$rec]"
top2=$(grep -v -- '-big-\|-greeting\|-etc' "$tstate/gcroots/pending/$rec" | while read -r p; do
    [ -f "$tstate/store/${p##*/}/profile.json" ] && echo "$p"; done | head -1)
[ -n "$top2" ] || fail "the pending record holds no toplevel: $(cat "$tstate/gcroots/pending/$rec")"
big=$(grep -- '-big-a-v2' "$tstate/gcroots/pending/$rec")
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl gc
expect_eq "gc with a fresh record" 0 "$rc"
[ -f "$tstate/store/${top2##*/}/profile.json" ] || fail "gc deleted the copied toplevel of a stopped deployment"
[ -e "$tstate/store/${big##*/}" ] || fail "gc deleted a copied path of a stopped deployment"
# An hour without renewal: the record is stale; gc says so and lets the paths go.
touch -d '61 minutes ago' "$tstate/gcroots/pending/$rec"
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl gc --dry-run
expect_contains "dry run names the stale record" "would drop stale pending root $rec" "$out"
[ -e "$tstate/gcroots/pending/$rec" ] || fail "gc --dry-run removed the stale record"
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl gc
expect_contains "gc drops the stale record" "dropping stale pending root $rec" "$out"
[ ! -e "$tstate/gcroots/pending/$rec" ] || fail "the stale record is still there"
[ ! -e "$tstate/store/${top2##*/}" ] || fail "the stale deployment's toplevel stayed"
# The running generation is untouched by all this, and the next deploy works.
[ -f "$tstate/store/${top##*/}/profile.json" ] || fail "gc deleted the running toplevel"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "deploy after the stale record" 0 "$rc"
expect_eq "greeting v2" "v2" "$(cat "$troot/etc/static/greeting")"
expect_eq "no pending root left" "" "$(ls -A "$tstate/gcroots/pending" 2>/dev/null)"

# A bad id is refused with a message, not written anywhere.
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl store query-valid --pending ../x "$top"
expect_eq "bad pending id exit" 2 "$rc"
expect_contains "bad pending id message" "pending root id '../x'" "$err"
echo ok
