# deploy_fleet_netns.sh - a fleet of simulated machines: 8 hosts, each a network namespace
# with its own address on a private bridge, its own sshd on port 22, store, root and state
# directory. The same change goes to all with -j 8 and every host converges (generation 2,
# the new file); each target answers from its own address; the deployer's bytes through the
# bridge are counted; then a cache on its own machine (nginx in a namespace too) serves a new 512 KiB file, which
# every target fetches itself, so the deployer sends much less than the file's size per
# host. The EXIT trap removes the namespaces, the bridge and every process in them.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
source "$(dirname "$0")/lib/netns.bash"
N=8
netns_fleet_setup
for i in $(seq 1 $N); do
  netns_fleet_host "h$i" "$i" v '"all"' || fail "host h$i did not start"
done
deploy_write_flake "${NETNS_SPECS[@]}"
echo 1 >"$DEPLOY_FLAKE/v"
head -c 1000 /dev/urandom >"$DEPLOY_FLAKE/blob"
expect_contains "targets are on the bridge's network" "root@$NETNS_NET." "$(sshd_info h3 target)"

fl_deploy switch --on @all -j $N -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "first deployment: $err" 0 "$rc"
echo 2 >"$DEPLOY_FLAKE/v"
fl_deploy switch --on @all -j $N -i "$SSHD_CLIENT_KEY"
expect_eq "the same change to all: $err" 0 "$rc"
expect_contains "all converged" "$N of $N hosts succeeded" "$err"
for i in $(seq 1 $N); do
  expect_eq "h$i on generation 2" "system-2-link" "$(target_default h$i)"
  expect_eq "h$i has the change" "2" "$(cat "$DEPLOY_WORK/targets/h$i/root/etc/static/v")"
done
# each target is its own machine on the network: its own address, and its sshd alone on :22
run_fl remote-exec -i "$SSHD_CLIENT_KEY" --target-host "$(sshd_info h5 target)" -- ip -4 -o addr show dev eth0
expect_contains "h5 has its own address" "inet $NETNS_NET.6/24" "$out"

# a new 512 KiB file, pushed to the cache on the bridge: the targets fetch it themselves
run_fl cache keygen fleet-1 -o "$DEPLOY_WORK/key.sec"
pub=$out
head -c 524288 /dev/urandom >"$DEPLOY_FLAKE/blob"
echo 3 >"$DEPLOY_FLAKE/v"
fl_deploy --quiet cache push --to "file://$DEPLOY_WORK/srv/c" --key "$DEPLOY_WORK/key.sec" --host h1
expect_eq "push: $err" 0 "$rc"
chmod -R a+rX "$DEPLOY_WORK/srv"
before=$(netns_tx_bytes)
fl_deploy switch --on @all -j $N -i "$SSHD_CLIENT_KEY" \
  --substituters "$NGINX_URL/c" --trusted-public-key "$pub"
expect_eq "deployment through the cache: $err" 0 "$rc"
sent=$(( $(netns_tx_bytes) - before ))
for i in $(seq 1 $N); do
  expect_eq "h$i has the new blob" "$(sha256sum <"$DEPLOY_FLAKE/blob")" \
    "$(sha256sum <"$DEPLOY_WORK/targets/h$i/root/etc/static/blob")"
  expect_contains "h$i fetched from the cache" "the target fetched" "$(grep "^\[h$i\] .*the target fetched" <<<"$err")"
done
[ "$(grep -c 'GET /c/nar/' "$NGINX_LOG")" -ge $N ] || fail "nginx served fewer than $N NARs"
# without the cache the deployer would send at least N x 512 KiB
[ "$sent" -lt $((N * 524288 / 2)) ] || fail "the deployer sent $sent bytes to $N hosts for a 512 KiB change through the cache"
echo "deploy_fleet_netns: ok ($sent bytes from the deployer for $N hosts through the cache)"
