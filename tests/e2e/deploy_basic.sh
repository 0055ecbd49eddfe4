# deploy_basic.sh - `switch --target-host` against a real sshd whose target is a separate
# store (see lib/deploy.sh): first deploy, no-op redeploy (nothing copied), changed deploy
# (only the changed paths copied), generations and rollback run remotely, and the refusals:
# unknown host key, a target whose store directory differs, a missing flakectl.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
deploy_target_start n1
T=$SSHD_TARGET
deploy_write_flake "n1 $T \"web\""
echo '{ ... }: { networking.hostName = "n1"; environment.etc."greeting".text = "v1\n"; }' >"$DEPLOY_FLAKE/n1.nix"
troot=$DEPLOY_WORK/targets/n1/root

# unknown host key: refused before anything is copied
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "unknown host key exit" 1 "$rc"
expect_contains "unknown host key named" "host key of" "$err"
expect_contains "unknown host key hint" "--accept-new-host-key" "$err"
expect_eq "nothing copied on refusal" "" "$(ls "$DEPLOY_WORK/targets/n1/state/store" 2>/dev/null)"

fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "first deploy exit" 0 "$rc"
expect_contains "activation output prefixed" "[n1] generation 1 is the default" "$out"
expect_contains "copy progress line" "[n1] copied " "$err"
expect_eq "greeting on the target" "v1" "$(cat "$troot/etc/static/greeting")"
expect_eq "target generation 1" "system-1-link" "$(target_default n1)"
expect_eq "nothing activated on the builder" "" "$(ls "$DEPLOY_WORK/localroot")"
# the bytes really went into the target's own store (a different directory)
top=$(readlink "$troot/run/flakectl/current")
expect_eq "toplevel in the target's store" "yes" \
  "$([ -d "$DEPLOY_WORK/targets/n1/state/store/$(basename "$top")" ] && echo yes)"
first_paths=$(sed -n 's/.*copied \([0-9]*\) paths.*/\1/p' <<<"$err")
# the target's store verifies (run over SSH, where its store is visible at the right path)
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl store verify --check-contents
expect_eq "target store verifies" 0 "$rc"
expect_contains "target store consistent" "store is consistent" "$out"

# no-op redeploy: nothing copied, nothing activated
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "no-op exit" 0 "$rc"
expect_contains "no-op copies nothing" "nothing to copy" "$err"
expect_contains "no-op activation" "nothing to do" "$out"
expect_contains "no-op says unchanged" "[n1] unchanged: generation 1" "$out"
# known from `deploy-agent info` already: no activation round trip, no watchdog armed
expect_not_contains "no-op skips the activation" "magic rollback armed" "$out"
# an in-flight activation record on the target: the activation runs (and finishes it)
mkdir -p "$DEPLOY_WORK/targets/n1/state/activation"
mf=$DEPLOY_WORK/targets/n1/state/activation/managed.json
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m["inFlight"]=m.get("toplevel") or "x"; json.dump(m,open(sys.argv[1],"w"))' "$mf"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "in-flight redeploy exit" 0 "$rc"
expect_contains "in-flight redeploy activates" "interrupted" "$out"

# changed deploy: fewer paths than the first time
sed -i 's/v1/v2/' "$DEPLOY_FLAKE/n1.nix"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --confirm-timeout 20
expect_eq "changed deploy exit" 0 "$rc"
expect_contains "changed deploy confirmed" "[n1] deployed: generation 2 (confirmed)" "$out"
second_paths=$(sed -n 's/.*copied \([0-9]*\) paths.*/\1/p' <<<"$err")
[ "$second_paths" -lt "$first_paths" ] || fail "changed deploy copied $second_paths paths, first $first_paths"
expect_eq "greeting v2" "v2" "$(cat "$troot/etc/static/greeting")"
expect_eq "target generation 2" "system-2-link" "$(target_default n1)"

fl_deploy generations --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "remote generations exit" 0 "$rc"
expect_contains "remote generations lists 2 as current" "(default)  (current)" "$(grep '^\[.*\]    2 ' <<<"$out")"
fl_deploy rollback --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "remote rollback exit" 0 "$rc"
expect_contains "remote rollback output" "rolling back to generation 1" "$out"
expect_eq "greeting back to v1" "v1" "$(cat "$troot/etc/static/greeting")"
expect_eq "target default back to 1" "system-1-link" "$(target_default n1)"
fl_deploy rollback --to 7 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "remote rollback to a missing generation fails" 1 "$rc"
expect_contains "its error comes back" "generation 7 does not exist" "$out$err"

# dry-activate remotely changes nothing
fl_deploy dry-activate --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "remote dry-activate exit" 0 "$rc"
expect_contains "remote dry-activate plan" "~ /etc/greeting" "$out"
expect_eq "dry-activate kept v1" "v1" "$(cat "$troot/etc/static/greeting")"

# a target whose store is elsewhere (no namespace): refused with the reason, nothing copied
mkdir -p "$DEPLOY_WORK/other/state" "$DEPLOY_WORK/other/root"
SSHD_ENV="FLAKECTL_STATE_DIR=$DEPLOY_WORK/other/state FLAKECTL_ROOT=$DEPLOY_WORK/other/root" \
  SSHD_PATH_PREPEND=$(dirname "$FLAKECTL") sshd_start other
fl_deploy switch --host n1 --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "other store dir exit" 1 "$rc"
expect_contains "other store dir explained" "both sides need the same one" "$err"
expect_eq "nothing imported there" "" "$(ls "$DEPLOY_WORK/other/state/store" 2>/dev/null)"

# a target without flakectl: the install hint
SSHD_PATH_PREPEND= sshd_start bare
fl_deploy switch --host n1 --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "no flakectl exit" 1 "$rc"
expect_contains "no flakectl explained" "flakectl is not installed" "$err"
echo "deploy_basic: ok"
