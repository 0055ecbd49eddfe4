#!/usr/bin/env bash
# status_fleet.sh - `flakectl status --on` over real sshd targets (each its own store and
# record): a host pushed at the flake's commit is "current", one pushed at an older commit
# "behind", one whose last push failed in activation shows that error (recorded by the
# target itself), one never deployed has no generation, and a target nothing listens on is a
# row with "connection refused", not an abort. --json carries the same; exit 1 while any host
# is unreachable or failed. The local record (no --on) is this machine's.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
deploy_fleet fleet n1 n2 n3 n4
commit() {
    git -C "$DEPLOY_FLAKE" add -A
    git -C "$DEPLOY_FLAKE" -c user.name=t -c user.email=t@t commit -qm "$1"
    git -C "$DEPLOY_FLAKE" rev-parse HEAD
}
git -C "$DEPLOY_FLAKE" init -q
c1=$(commit one)
ssh=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)
fl_deploy switch --on n1,n2,n3 -j 3 "${ssh[@]}" --confirm-timeout 20
expect_eq "first deployment" 0 "$rc"
sed -i 's/hello n1/hi n1/' "$DEPLOY_FLAKE/n1.nix"
echo '{ ... }: { networking.hostName = "n3"; system.activationScripts.broken = "echo n3 says no >&2; exit 1"; }' >"$DEPLOY_FLAKE/n3.nix"
c2=$(commit two)
fl_deploy switch --on n1,n3 -j 2 "${ssh[@]}" --confirm-timeout 20
expect_eq "second deployment: n3 fails" 1 "$rc"

fl_deploy status --on @fleet -j 5 "${ssh[@]}"
echo "$out"
expect_eq "status exits 1 (a host unreachable, one failed)" 1 "$rc"
row() { grep "^$1 " <<<"$out"; }
expect_contains "header" "HOST  GEN   REV           STATE        UPDATED               LAST ERROR" "$out"
expect_contains "n1 current at c2" "n1    2     ${c2:0:12}  current" "$(row n1)"
expect_contains "n2 behind at c1" "n2    1     ${c1:0:12}  behind" "$(row n2)"
expect_contains "n3 still on c1" "n3    1     ${c1:0:12}  behind" "$(row n3)"
expect_contains "n3's failure" "activation failed at step 'activation script broken'" "$(row n3)"
expect_contains "n4 never deployed" "n4    -     -             unknown" "$(row n4)"
expect_contains "a0 unreachable" "unreachable" "$(row a0)"
expect_contains "a0's reason" "connection refused" "$(row a0)"
expect_eq "one row per host" 6 "$(wc -l <<<"$out")"

fl_deploy status --on @fleet --json "${ssh[@]}"
expect_eq "json exit" 1 "$rc"
j() { jq -r "$1" <<<"$out"; }
expect_eq "json n1" "current 2 $c2 push" "$(j '.[] | select(.name=="n1") | "\(.state) \(.generation) \(.rev) \(.via)"')"
expect_eq "json n3 error" "true" "$(j '.[] | select(.name=="n3") | .lastError | test("exited with status 1")')"
expect_eq "json a0" "false unreachable" "$(j '.[] | select(.name=="a0") | "\(.reachable) \(.state)"')"
expect_contains "json a0 error" "connection refused" "$(j '.[] | select(.name=="a0") | .error')"

# the good hosts alone: exit 0
fl_deploy status --on n1,n2 "${ssh[@]}"
expect_eq "healthy hosts exit 0" 0 "$rc"
# this machine: no record yet is generation "-", not an error
fl_deploy status
expect_eq "local status" 0 "$rc"
expect_contains "local row" "-     -             unknown" "$out"
echo "ok: status over SSH"
