# pkg_apt.sh - native packages through real apt in a copy of the cached Debian 12 root:
# `flakectl --root DIR switch` installs hello, jq and sl; dropping sl removes it; a package
# that was there before (ca-certificates) survives being dropped; rollback restores the set;
# an unknown name fails with apt's words and changes nothing; a later failing step takes the
# new packages away again; a pinned version the archive lost installs the candidate; kill -9
# in the middle of an install, and in the middle of a removal (dpkg's journal left unmerged),
# is recovered by the next switch. Asserted with dpkg-query inside the root.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/debian-root.bash"
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot and mounts)"; exit 77; }
source "$(dirname "$0")/lib/apt-box.bash"
owned() { jq -r '.owned | keys | join(" ")' "$work/state/packages/owned.json"; }
mounts() { grep -c " $root/" /proc/mounts || true; }
# power_cut PID: flakectl's group and every process inside the root (apt runs dpkg in a
# session of its own, on a pseudo-terminal) die at once, as in a power loss.
power_cut() {
  kill -9 -- "-$1"
  for _ in 1 2 3 4 5; do
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
    done
    sleep 0.2
  done
  wait "$1" 2>/dev/null || true
}

expect_eq "ca-certificates is there before flakectl" "ca-certificates " "$(installed ca-certificates)"
declare_pkgs "hello jq sl cacert"

# dry-activate shows the plan with versions and changes nothing
run_fl --flake "$flake" dry-activate --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "dry-activate exit" 0 "$rc"
expect_contains "plan installs hello with its version" "+ hello 2.10-3 (apt)" "$out"
expect_contains "plan keeps the foreign package" "= ca-certificates" "$out"
expect_contains "foreign package is not ours" "(already installed, not ours)" "$out"
expect_eq "dry-activate installed nothing" "" "$(installed hello jq sl)"

run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch" 0 "$rc"
expect_eq "installed" "hello jq sl " "$(installed hello jq sl)"
expect_eq "owned: what flakectl installed, not ca-certificates" "hello jq sl" "$(owned)"
expect_eq "no mount left behind" 0 "$(mounts)"
expect_eq "a record for generation 1" "hello jq sl" "$(jq -r '.owned | keys | join(" ")' "$work/state/packages/generation-1.json")"

# no-op: nothing to do, apt not run
run_fl --flake "$flake" switch --host box
expect_contains "no-op switch" "nothing to do" "$out"

# drop sl and ca-certificates: sl goes, ca-certificates stays
declare_pkgs "hello jq"
run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "second switch" 0 "$rc"
expect_contains "plan names the generation that installed sl" "- sl 5.02-1+b1 (installed by flakectl in generation 1)" "$out"
expect_eq "sl removed, the others stay" "hello jq " "$(installed hello jq sl)"
expect_eq "ca-certificates survives being dropped" "ca-certificates " "$(installed ca-certificates)"
expect_eq "owned after the drop" "hello jq" "$(owned)"

# rollback to generation 1 brings sl back
run_fl --flake "$flake" rollback
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "rollback" 0 "$rc"
expect_eq "rollback restores the set" "hello jq sl " "$(installed hello jq sl)"
expect_eq "owned after rollback" "hello jq sl" "$(owned)"

# an unknown name: apt's own message, the host, nothing installed, record unchanged
cp "$work/state/packages/owned.json" "$work/owned.before"
gen_before=$(readlink "$work/state/profiles/system")
declare_pkgs 'hello jq sl figlet (pkgs.native "flakectl-no-such-package")'
run_fl --flake "$flake" switch --host box
expect_eq "unknown name fails" 1 "$rc"
expect_contains "apt's message" "Unable to locate package flakectl-no-such-package" "$err"
expect_contains "the host is named" "host box" "$err"
expect_contains "the other steps are restored" "restored" "$err"
expect_eq "nothing installed" "" "$(installed figlet)"
expect_eq "record unchanged" "" "$(cmp "$work/owned.before" "$work/state/packages/owned.json")"
expect_eq "default generation unchanged" "$gen_before" "$(readlink "$work/state/profiles/system")"
expect_eq "no mount left behind after a failure" 0 "$(mounts)"

# a later step fails: the generation's other steps are restored, packages included
printf '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ hello jq sl figlet ]; system.activationScripts.boom = "exit 3"; }\n' >"$flake/packages.nix"
run_fl --flake "$flake" switch --host box
expect_eq "a failing activation script fails the switch" 1 "$rc"
expect_contains "the script is named" "boom" "$err"
expect_eq "the package installed before the failure is removed again" "" "$(installed figlet)"
expect_eq "the others stay" "hello jq sl " "$(installed hello jq sl)"
expect_eq "owned after the restore" "hello jq sl" "$(owned)"

# a pinned version the archive does not have (a rollback to an old pin): the candidate, said so
declare_pkgs 'hello jq sl (pkgs.native { name = "figlet"; apt = "figlet=0.0-flakectl-gone"; })'
run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch with a vanished pin" 0 "$rc"
expect_contains "says the version is gone" "figlet=0.0-flakectl-gone is no longer available; installing the candidate" "$out"
expect_eq "the candidate is installed" "figlet " "$(installed figlet)"

# kill -9 while apt installs (cowsay pulls in perl: a long enough window), then switch again
declare_pkgs "hello jq sl cowsay"
setsid "$FLAKECTL" --flake "$flake" switch --host box >"$work/killed.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  grep -q "Unpacking\|Setting up" "$work/killed.log" && break
  sleep 0.1
done
grep -q "Unpacking\|Setting up" "$work/killed.log" || { cat "$work/killed.log" >&2; fail "apt never started unpacking"; }
power_cut "$pid"
expect_eq "the killed run left no mount" 0 "$(mounts)"
expect_contains "the record shows the install in flight" "inFlight" "$(cat "$work/state/packages/owned.json")"
run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch after kill -9" 0 "$rc"
expect_contains "the interruption is noticed" "interrupted" "$out"
expect_eq "cowsay installed after recovery" "cowsay " "$(installed cowsay)"
expect_eq "dpkg has nothing half-done" "" "$(chroot "$root" dpkg --audit)"
expect_eq "owned reconciled (figlet dropped and removed)" "cowsay hello jq sl" "$(owned)"
expect_eq "figlet removed" "" "$(installed figlet)"

# kill -9 while dpkg removes a package: its journal (var/lib/dpkg/updates) keeps the change,
# and apt refuses to run ("dpkg was interrupted") until `dpkg --configure -a`. The window is
# held open by a prerm script that sleeps once (the test's own copy of the root).
printf '#!/bin/sh\n[ -e /var/tmp/prerm-slept ] && exit 0\ntouch /var/tmp/prerm-slept\nsleep 300\n' \
  >"$root/var/lib/dpkg/info/cowsay.prerm"
chmod 755 "$root/var/lib/dpkg/info/cowsay.prerm"
declare_pkgs "hello jq sl"
setsid "$FLAKECTL" --flake "$flake" switch --host box >"$work/killed2.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -e "$root/var/tmp/prerm-slept" ] && break
  sleep 0.1
done
[ -e "$root/var/tmp/prerm-slept" ] || { cat "$work/killed2.log" >&2; fail "the removal never reached cowsay's prerm"; }
power_cut "$pid"
[ -n "$(ls "$root/var/lib/dpkg/updates" | grep -x '[0-9]*')" ] || fail "the kill left dpkg's journal empty (the window was missed)"
run_fl --flake "$flake" switch --host box
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "switch after kill -9 during a removal" 0 "$rc"
expect_contains "the interrupted dpkg is noticed" "dpkg was interrupted" "$out"
expect_eq "cowsay removed after recovery" "" "$(installed cowsay)"
expect_eq "the rest stays" "hello jq sl " "$(installed hello jq sl)"
expect_eq "dpkg has nothing half-done after the removal" "" "$(chroot "$root" dpkg --audit)"
expect_eq "owned after the interrupted removal" "hello jq sl" "$(owned)"
echo "ok"
