# deploy_fleet_parallel.sh - a fleet is built in parallel and pipelined (real sshd targets,
# each its own store): hosts build at the same time, at most one build per core; a host is
# copied and activated while another is still building; a derivation that four hosts need at
# once is built exactly once in the shared store, which verifies afterwards; a host that does
# not evaluate fails alone (--fail-fast stops the hosts not started yet).
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
cores=$(nproc)
if [ "$cores" -lt 2 ]; then
  echo "deploy_fleet_parallel: SKIP: needs 2 cores to build 2 hosts at once (this machine has $cores)"
  exit 77
fi
deploy_setup
marks=$DEPLOY_WORK/marks
mkdir -p "$marks"
specs=()
for n in n1 n2 n3 n4 quick slow; do
  deploy_target_start $n >/dev/null
  case $n in n?) tags='"web"' ;; *) tags='"pipe"' ;; esac
  specs+=("$n $SSHD_TARGET $tags")
done
specs+=("a-bad root@127.0.0.1:1 \"web\"")
deploy_write_flake "${specs[@]}"

# Every web host needs `shared` (one builder run, appended to runs) and its own `own`, whose
# builder notes how many builds run with it: it waits (up to 15 s) until another build
# runs, records the most it saw, and lingers a little so that the others see it too.
cat >"$DEPLOY_FLAKE/shared.nix" <<EOF
{ name }:
let
  sh = script: [ "-c" ("PATH=/usr/bin:/bin; " + script) ];
  shared = derivation {
    name = "shared"; system = "x86_64-linux"; builder = "/bin/sh";
    args = sh "echo ran >> $marks/runs; sleep 1; echo shared > \$out";
  };
  own = derivation {
    name = "own-\${name}"; system = "x86_64-linux"; builder = "/bin/sh";
    args = sh ''
      touch $marks/start.\${name}
      running() { echo \$(( \$(ls $marks | grep -c '^start\\.') - \$(ls $marks | grep -c '^end\\.') )); }
      most=0
      for i in \$(seq 1 150); do
        r=\$(running); [ "\$r" -gt "\$most" ] && most=\$r
        [ "\$most" -ge 2 ] && break
        sleep 0.1
      done
      sleep 1; r=\$(running); [ "\$r" -gt "\$most" ] && most=\$r
      echo \$most > $marks/most.\${name}
      touch $marks/end.\${name}
      echo \${name} > \$out
    '';
  };
in { inherit shared own; }
EOF
for n in n1 n2 n3 n4; do
  cat >"$DEPLOY_FLAKE/$n.nix" <<EOF
{ ... }: let d = import ./shared.nix { name = "$n"; }; in {
  networking.hostName = "$n";
  environment.etc."shared".source = d.shared;
  environment.etc."own".source = d.own;
}
EOF
done
echo '{ ... }: { networking.hostName = "a-bad"; environment.etc."x".text = throw "a-bad is broken"; }' \
  >"$DEPLOY_FLAKE/a-bad.nix"

fl_deploy switch --on @web -j 5 -i "$SSHD_CLIENT_KEY" --accept-new-host-key --confirm-timeout 20
expect_eq "fleet with a broken host exits 1" 1 "$rc"
for n in n1 n2 n3 n4; do
  expect_eq "$n deployed" "system-1-link" "$(target_default $n)"
  expect_eq "$n has its own output" "$n" "$(cat "$DEPLOY_WORK/targets/$n/root/etc/static/own")"
  expect_eq "$n has the shared output" "shared" "$(cat "$DEPLOY_WORK/targets/$n/root/etc/static/shared")"
  most=$(cat "$marks/most.$n")
  [ "$most" -ge 2 ] || fail "$n's build never ran beside another (at most $most at once)"
  [ "$most" -le "$cores" ] || fail "$n's build saw $most builds at once, more than the $cores cores"
done
expect_eq "the shared derivation was built once for four concurrent hosts" "ran" "$(cat "$marks/runs")"
expect_contains "a-bad failed at its build" "build: " "$(grep '^a-bad ' <<<"$err")"
expect_contains "a-bad's reason" "a-bad is broken" "$err"
expect_contains "the others succeeded" "4 of 5 hosts succeeded" "$err"
run_fl --state-dir "$DEPLOY_STATE" store verify --check-contents
expect_eq "the deployer's store verifies after the parallel builds" 0 "$rc"
for n in n1 n2 n3 n4; do # on the target itself: its store is at the deployer's path there
  run_fl remote-exec -i "$SSHD_CLIENT_KEY" --target-host "$(sshd_info $n target)" -- \
    flakectl store verify --check-contents
  expect_eq "$n's store verifies: $out $err" 0 "$rc"
done

# --fail-fast -j 1: a-bad (first) fails to build, nothing else starts
for n in n1 n2 n3 n4; do echo "{ ... }: { networking.hostName = \"$n\"; }" >"$DEPLOY_FLAKE/$n.nix"; done
fl_deploy switch --on @web -j 1 --fail-fast -i "$SSHD_CLIENT_KEY"
expect_eq "fail-fast exit" 1 "$rc"
expect_contains "n2 not started" "skipped" "$(grep '^n2 ' <<<"$err")"
expect_eq "n2 untouched" "system-1-link" "$(target_default n2)"

# Pipelining: slow's builder waits until quick is activated on its target, which happens
# only when quick deploys while slow is still building.
cat >"$DEPLOY_FLAKE/quick.nix" <<'EOF'
{ ... }: { networking.hostName = "quick"; environment.etc."q".text = "quick\n"; }
EOF
cat >"$DEPLOY_FLAKE/slow.nix" <<EOF
{ ... }: {
  networking.hostName = "slow";
  environment.etc."waited".source = derivation {
    name = "waited"; system = "x86_64-linux"; builder = "/bin/sh";
    args = [ "-c" ''
      PATH=/usr/bin:/bin
      for i in \$(seq 1 200); do
        [ -e $DEPLOY_WORK/targets/quick/state/profiles/system ] && { echo saw > $marks/pipelined; break; }
        sleep 0.1
      done
      echo done > \$out
    '' ];
  };
}
EOF
fl_deploy switch --on @pipe -j 2 -i "$SSHD_CLIENT_KEY" --accept-new-host-key --confirm-timeout 20
expect_eq "pipelined fleet exit: $out $err" 0 "$rc"
expect_eq "quick was activated while slow was building" "saw" "$(cat "$marks/pipelined" 2>/dev/null)"
q=$(grep -n '^\[quick\] generation 1 is the default' <<<"$out" | head -1 | cut -d: -f1)
s=$(grep -n '^\[slow\] built ' <<<"$out" | head -1 | cut -d: -f1)
[ -n "$q" ] && [ -n "$s" ] && [ "$q" -lt "$s" ] || fail "quick's activation is not before slow's build in the output:
$out"
expect_eq "slow deployed" "system-1-link" "$(target_default slow)"
echo "deploy_fleet_parallel: ok"
