#!/usr/bin/env bash
# cli_progress_remote.sh - progress of copies to targets and of fleets, as a user sees it,
# against real sshd targets (lib/deploy.sh): in a pipe plain lines (a line per path copied,
# a line per host event of a fleet), on a terminal (a real pty) one line redrawn in place
# (what, how many of how many, bytes, rate), --quiet: no copy lines at all.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
PTY="python3 $FLAKECTL_SRC/tests/e2e/lib/ptyrun.py"
ESC=$'\033'
CR=$'\r'
export TERM=xterm
deploy_setup
specs=()
for n in n1 n2 n3; do
  deploy_target_start $n >/dev/null
  specs+=("$n $SSHD_TARGET \"web\"")
done
deploy_write_flake "${specs[@]}"
for n in n1 n2 n3; do
  cat >"$DEPLOY_FLAKE/$n.nix" <<EOF2
{ pkgs, lib, ... }: {
  networking.hostName = "$n";
  environment.etc."v".text = "1\n";
  environment.systemPackages = map (i: pkgs.runCommand "tool-$n-\${toString i}" {} ''
    mkdir -p \$out/bin; head -c 20000 /dev/urandom > \$out/bin/blob-\${toString i}
  '') (lib.range 1 3);
}
EOF2
done
K=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)
t1=$(sshd_info n1 target)

# one host in a pipe: a plain line per path copied (n of m, its size), then the copy's result
fl_deploy switch --host n1 --target-host "$t1" "${K[@]}"
expect_eq "pipe deploy" 0 "$rc"
grep -q "^copying to n1: \[1/[0-9]*\] $DEPLOY_STATE/store/[a-z0-9]\{32\}-.* ([0-9.]* [KM]\?i\?B)$" <<<"$err" ||
  fail "no plain copy line per path: $err"
m=$(sed -n 's/^copying to n1: \[[0-9]*\/\([0-9]*\)\].*/\1/p' <<<"$err" | head -1)
expect_eq "every path counted" 1 "$(grep -c "^copying to n1: \[$m/$m\] " <<<"$err")"
expect_contains "copy result" "[n1] copied $m paths" "$err"
expect_not_contains "no escapes in a pipe" "$ESC" "$err"
expect_not_contains "no CR in a pipe" "$CR" "$err"

# --quiet: neither progress nor the copy's line (the deployment's errors would still come)
echo '{ ... }: { networking.hostName = "n1"; environment.etc."v".text = "2\n"; }' >"$DEPLOY_FLAKE/n1.nix"
fl_deploy --quiet switch --host n1 --target-host "$t1" "${K[@]}"
expect_eq "quiet deploy" 0 "$rc"
expect_not_contains "quiet: no copy lines" "copying to" "$err"
expect_not_contains "quiet: no copy result" "copied" "$err"
expect_eq "quiet deploy happened" "2" "$(cat "$DEPLOY_WORK/targets/n1/root/etc/static/v")"

# one host on a terminal: the updating line with paths, bytes of the total and the rate
echo '{ ... }: { networking.hostName = "n1"; environment.etc."v".text = "3\n"; }' >"$DEPLOY_FLAKE/n1.nix"
tty=$($PTY "$FLAKECTL" --flake "$DEPLOY_FLAKE" --state-dir "$DEPLOY_STATE" --root "$DEPLOY_WORK/localroot" \
  switch --host n1 --target-host "$t1" "${K[@]}" 2>&1)
grep -q "${CR}${ESC}\[Kcopying to n1: \([0-9]*\)/\1 paths, [0-9.]* [KM]\?i\?B of [0-9.]* [KM]\?i\?B, [0-9.]* [KM]\?i\?B/s" <<<"$tty" ||
  fail "no updating copy line on a terminal: $(cat -v <<<"$tty")"
grep -q "${CR}${ESC}\[K\[n1\] copied [0-9]* paths" <<<"$tty" || fail "the line is not cleared before the result: $(cat -v <<<"$tty")"
grep -q "^copying to n1: \[" <<<"$tty" && fail "per-path lines on a terminal without -v"

# a fleet in a pipe: a line per host event with the fleet's count; the fleet's hosts' builds
# report (a line per build, named by host)
fl_deploy switch --on @web -j 3 "${K[@]}"
expect_eq "fleet in a pipe" 0 "$rc"
for n in n2 n3; do
  expect_contains "$n built (pipe)" "[$n] built (" "$err"
  expect_contains "$n copied (pipe)" "[$n] copied (" "$err"
  expect_contains "$n activated (pipe)" "[$n] activated (" "$err"
  grep -q "^\[$n\] $DEPLOY_STATE/store/[a-z0-9]\{32\}-tool-$n-1$" <<<"$err" || fail "no build line for $n's tool-1: $err"
done
expect_eq "activated 3 of 3 once" 1 "$(grep -c '^deploying: \[n[123]\] activated (3 of 3 hosts)$' <<<"$err")"
expect_eq "copied 3 of 3 once" 1 "$(grep -c '^deploying: \[n[123]\] copied (3 of 3 hosts)$' <<<"$err")"
expect_not_contains "no escapes in a fleet's pipe" "$ESC" "$err"

# a fleet on a terminal: the one summary line, hosts built/copied/activated of n
for n in n1 n2 n3; do
  echo "{ ... }: { networking.hostName = \"$n\"; environment.etc.\"v\".text = \"4\\n\"; }" >"$DEPLOY_FLAKE/$n.nix"
done
tty=$($PTY "$FLAKECTL" --flake "$DEPLOY_FLAKE" --state-dir "$DEPLOY_STATE" --root "$DEPLOY_WORK/localroot" \
  switch --on @web -j 3 "${K[@]}" 2>&1)
grep -q "${CR}${ESC}\[Kdeploying: 3 hosts: 3 built, 3 copied, 3 activated" <<<"$tty" ||
  fail "no fleet summary line on a terminal: $(cat -v <<<"$tty")"
grep -q "${CR}${ESC}\[Kdeploying: 3 hosts: [0-2] built, 0 copied, 0 activated" <<<"$tty" ||
  fail "the fleet line did not count up: $(cat -v <<<"$tty")"
grep -q "^deploying: \[" <<<"$tty" && fail "per-host plain lines on a terminal without -v"
# every line the fleet writes (the hosts' lines from the targets, the build lines, the
# progress line) has a row of its own: no host line continues the updating line or another
printf '%s' "$tty" >"$DEPLOY_WORK/fleet.tty"
python3 "$FLAKECTL_SRC/tests/e2e/lib/termrows.py" "$DEPLOY_WORK/fleet.tty" >&2 ||
  fail "lines of a fleet on a terminal share a row: $(cat -v "$DEPLOY_WORK/fleet.tty")"
expect_contains "the table still ends a fleet" "3 of 3 hosts succeeded" "$tty"
for n in n1 n2 n3; do
  expect_eq "$n at v4" "4" "$(cat "$DEPLOY_WORK/targets/$n/root/etc/static/v")"
done
echo "cli_progress_remote: ok"
