# deploy_fleet.sh - `switch --on` over a fleet of real sshd targets (each its own store):
# four good hosts and one whose target refuses connections; -j 4 in parallel, every line
# prefixed, a summary table, exit 1, the good hosts deployed anyway; --on with names and '*';
# --fail-fast skips the hosts not started yet; an unknown name is refused.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
# a0: a port nothing listens on (sorted first, so --fail-fast -j 1 meets it first)
deploy_fleet web n1 n2 n3 n4

fl_deploy switch --on @web -j 4 -i "$SSHD_CLIENT_KEY" --accept-new-host-key --confirm-timeout 20
expect_eq "fleet with a failure exits 1" 1 "$rc"
for n in n1 n2 n3 n4; do
  expect_eq "$n deployed" "system-1-link" "$(target_default $n)"
  expect_eq "$n got its own greeting" "hello $n" "$(cat "$DEPLOY_WORK/targets/$n/root/etc/static/greeting")"
  expect_contains "$n output prefixed" "[$n] generation 1 is the default" "$out"
  expect_contains "$n ok in the table" "ok" "$(grep "^$n " <<<"$err")"
done
expect_contains "a0 failed in the table" "FAILED" "$(grep '^a0 ' <<<"$err")"
expect_contains "a0's reason in the table" "connection refused" "$(grep '^a0 ' <<<"$err")"
expect_contains "table header" "host                 target" "$err"
expect_contains "generation column" " 1 " "$(grep '^n3 ' <<<"$err")"
expect_contains "summary count" "4 of 5 hosts succeeded" "$err"

# by names: only those two, and the others untouched
for n in n1 n2; do sed -i "s/hello $n/hi $n/" "$DEPLOY_FLAKE/$n.nix"; done
sed -i "s/hello n3/hi n3/" "$DEPLOY_FLAKE/n3.nix"
fl_deploy switch --on n1,n2 -j 2 -i "$SSHD_CLIENT_KEY" --confirm-timeout 20
expect_eq "named fleet exit" 0 "$rc"
expect_contains "named fleet summary" "2 of 2 hosts succeeded" "$err"
expect_eq "n1 on 2" "system-2-link" "$(target_default n1)"
expect_eq "n3 untouched" "system-1-link" "$(target_default n3)"

# --fail-fast -j 1: a0 fails first, nothing else starts
fl_deploy switch --on @web -j 1 --fail-fast -i "$SSHD_CLIENT_KEY"
expect_eq "fail-fast exit" 1 "$rc"
expect_contains "others skipped" "skipped" "$(grep '^n3 ' <<<"$err")"
expect_eq "n3 still untouched" "system-1-link" "$(target_default n3)"

# '*' with --rollback-succeeded: n3 switches, a0 fails, n3 is rolled back
fl_deploy switch --on '*' -j 4 --rollback-succeeded -i "$SSHD_CLIENT_KEY" --confirm-timeout 20
expect_eq "rollback-succeeded exit" 1 "$rc"
expect_contains "n3 rolled back after the failure" "rolled back (another host failed)" "$(grep '^n3 ' <<<"$err")"
expect_eq "n3 default back on 1" "system-1-link" "$(target_default n3)"
expect_eq "n3 greeting back" "hello n3" "$(cat "$DEPLOY_WORK/targets/n3/root/etc/static/greeting")"

fl_deploy switch --on n1,nosuch -i "$SSHD_CLIENT_KEY"
expect_eq "unknown host exit" 1 "$rc"
expect_contains "unknown host listed" "the flake has no host 'nosuch' (it has: a0, n1, n2, n3, n4)" "$err"
fl_deploy switch --on @nothing -i "$SSHD_CLIENT_KEY"
expect_eq "empty tag exit" 1 "$rc"
expect_contains "empty tag explained" "selects no host" "$err"
echo "deploy_fleet: ok"
