# deploy_resume.sh - a copy cut off halfway: the SSH connection is dropped (a TCP proxy cuts
# it after 24 MiB of a 32 MiB closure); the deploy fails saying so, the target's store holds
# only complete, verified paths (nothing half-registered, no leftovers), and the next run
# sends only what is still missing.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
deploy_target_start n1
T=$SSHD_TARGET
deploy_write_flake "n1 $T \"web\""
mods=""
for i in 1 2 3 4 5 6 7 8; do
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$DEPLOY_FLAKE/blob$i"
  mods="$mods environment.etc.\"blob$i\".source = ./blob$i;"
done
echo "{ ... }: { networking.hostName = \"n1\"; $mods }" >"$DEPLOY_FLAKE/n1.nix"

python3 "$FLAKECTL_SRC/tests/e2e/lib/cutproxy.py" "$DEPLOY_WORK/proxy.port" "$SSHD_PORT" $((24 * 1024 * 1024)) &
proxy=$!
trap 'kill $proxy 2>/dev/null; sshd_stop_all; rm -rf "$DEPLOY_WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$DEPLOY_WORK/proxy.port" ] && break; sleep 0.05; done
pport=$(cat "$DEPLOY_WORK/proxy.port")

fl_deploy switch --host n1 --target-host "root@127.0.0.1:$pport" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "cut copy exit" 1 "$rc"
expect_contains "cut copy explained" "while copying" "$err"
expect_contains "cut copy says what happens next" "the next run sends only what is missing" "$err"
before=$(sed -n 's/.*(\([0-9]*\) were copied before.*/\1/p' <<<"$err")
[ -n "$before" ] && [ "$before" -ge 1 ] || fail "no finished batch before the cut: $err"
expect_eq "nothing activated" "" "$(target_default n1)"
kill $proxy

run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key -- flakectl store verify
expect_eq "target store verifies after the cut" 0 "$rc"
expect_contains "no half-registered path, no leftovers" "store is consistent" "$out"

fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "resumed deploy exit" 0 "$rc"
line=$(grep 'copied ' <<<"$err")
sent=$(sed -n 's/.*copied \([0-9]*\) paths.*/\1/p' <<<"$line")
there=$(sed -n 's/.*; \([0-9]*\) of \([0-9]*\) were there.*/\1/p' <<<"$line")
total=$(sed -n 's/.*; \([0-9]*\) of \([0-9]*\) were there.*/\2/p' <<<"$line")
expect_eq "the finished batch was kept" "$before" "$there"
expect_eq "only the rest was sent" "$((total - before))" "$sent"
mib=$(sed -n 's/.*paths (\([0-9.]*\) MiB).*/\1/p' <<<"$line")
awk -v m="$mib" 'BEGIN { exit !(m > 0 && m < 24) }' || fail "resumed copy sent $mib MiB, expected less than 24"
# (the target's links name paths under the builder's store path; read the target's own copy)
for i in 1 2 3 4 5 6 7 8; do
  cmp -s "$DEPLOY_FLAKE/blob$i" "$(ls -d "$DEPLOY_WORK"/targets/n1/state/store/*-blob$i)" \
    || fail "blob$i differs in the target's store"
done
run_fl remote-exec --target-host "$T" -i "$SSHD_CLIENT_KEY" -- flakectl store verify --check-contents
expect_contains "target store consistent at the end" "store is consistent" "$out"
echo "deploy_resume: ok"
