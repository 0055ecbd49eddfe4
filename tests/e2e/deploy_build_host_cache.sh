# deploy_build_host_cache.sh - `switch --build-host` with binary caches (real sshds for the
# targets and build hosts, each with its own store; a real nginx serving the cache): the
# build host fetches from the cache what it has (a 1 MiB source the plan needs, and a 1 MiB
# built output whose builder writes random bytes, so a rebuild would differ) instead of
# receiving it from the deployer or building it, and the target fetches them from the cache
# itself before the relay, so the deployer carries only the new paths. The peer, the same
# change without caches, carries both megabytes twice (to the build host and relayed to the
# target). The same through the host's store.substituters / store.trustedPublicKeys.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
source "$(dirname "$0")/lib/nginx-serve.bash"
deploy_setup_cache
for n in t1 b1 t2 b2; do
  deploy_target_start $n >/dev/null
  eval "$n=\$SSHD_TARGET"
done
ssh_opts=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)
deploy_write_flake "n1 $t1" "n2 $t2"
head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
for n in n1 n2; do
  cat >"$DEPLOY_FLAKE/$n.nix" <<EOF
{ lib, ... }:
let
  # random bytes: a build of it gives other contents than the cache's copy
  big = derivation {
    name = "big"; system = "x86_64-linux"; builder = "/bin/sh";
    args = [ "-c" "/usr/bin/head -c 1048576 /dev/urandom > \$out" ];
  };
in {
  networking.hostName = "$n";
  environment.etc."blob".source = ./blob;
  environment.etc."big".source = big;
  environment.etc."greeting".text = "v1\n";
  store.substituters = lib.mkIf (builtins.pathExists $DEPLOY_WORK/use-option) [ "$NGINX_URL/c" ];
  store.trustedPublicKeys = lib.mkIf (builtins.pathExists $DEPLOY_WORK/use-option) [ (builtins.readFile $DEPLOY_WORK/pub) ];
}
EOF
done
run_fl cache keygen bh-cache-1 -o "$DEPLOY_WORK/key.sec"
pub=$out
printf '%s' "$pub" >"$DEPLOY_WORK/pub"
# the cache: both hosts' first closures (built here, the blob and big in them)
for n in n1 n2; do
  fl_deploy --quiet cache push --to "file://$DEPLOY_WORK/srv/c" --key "$DEPLOY_WORK/key.sec" --host $n
  expect_eq "push $n: $err" 0 "$rc"
done
chmod -R a+rX "$DEPLOY_WORK/srv"
big=$(basename "$(grep -l "StorePath: .*-big$" "$DEPLOY_WORK"/srv/c/*.narinfo | head -1 | xargs sed -n 's/^StorePath: //p')")
blob=$(basename "$(grep -l "StorePath: .*-blob$" "$DEPLOY_WORK"/srv/c/*.narinfo | head -1 | xargs sed -n 's/^StorePath: //p')")
[ -n "$big" ] && [ -n "$blob" ] || fail "the cache lacks big or blob"
cached_big=$(sha256sum <"$DEPLOY_STATE/store/$big")
# a new greeting: new toplevels (in no cache); blob and big are in the cache
for n in n1 n2; do sed -i 's/"v1\\n"/"v2\\n"/' "$DEPLOY_FLAKE/$n.nix"; done

line_kib() { # the size in KiB of the first "[LABEL] copied" line (0 when nothing was copied)
  local line
  line=$(grep -F "[$1] copied " <<<"$err" | head -1)
  [ -n "$line" ] || { echo 0; return; }
  sed 's/.*copied [0-9]* paths (\([0-9.]*\) \([KMG]\?i\?B\)).*/\1 \2/' <<<"$line" |
    awk '{ m = $2 == "B" ? 1/1024 : $2 == "KiB" ? 1 : $2 == "MiB" ? 1024 : 1048576; printf "%d", $1 * m }'
}
verify_store() { # TARGET-NAME: its store checked there
  run_fl remote-exec -i "$SSHD_CLIENT_KEY" --target-host "$(sshd_info $1 target)" -- \
    flakectl store verify --check-contents
  expect_eq "$1's store verifies: $out $err" 0 "$rc"
}
store_of() { echo "$DEPLOY_WORK/targets/$1/state/store"; }

# the peer: no cache; the deployer ships the blob to the build host, which builds big, and
# relays both to the target
fl_deploy switch --host n2 --target-host "$t2" --build-host "$b2" "${ssh_opts[@]}"
expect_eq "peer deploy: $err" 0 "$rc"
peer_inputs=$(line_kib "build host $b2")
peer_relay=$(line_kib n2)
[ "$peer_inputs" -ge 1024 ] || fail "without a cache the build host got only $peer_inputs KiB: $err"
[ "$peer_relay" -ge 2048 ] || fail "without a cache the relay carried only $peer_relay KiB: $err"
[ "$(sha256sum <"$(store_of b2)/$big")" != "$cached_big" ] || fail "the peer's build host did not build big"
verify_store t2
verify_store b2

# cached_deploy WHAT ARGS...: the deployment of n1 through b1 to t1, which fetch from the cache
cached_deploy() {
  local what=$1
  shift
  local nlog
  nlog=$(wc -l <"$NGINX_LOG")
  fl_deploy switch --host n1 --target-host "$t1" --build-host "$b1" "${ssh_opts[@]}" "$@"
  expect_eq "$what deploy: $err" 0 "$rc"
  expect_contains "$what: deployed" "[n1] deployed: generation 1" "$out"
  # the build host fetched the blob (an input of the plan) from the cache, not from here
  local kib
  kib=$(line_kib "build host $b1")
  [ "$kib" -lt 100 ] || fail "$what: the deployer sent the build host $kib KiB (peer: $peer_inputs): $err"
  expect_contains "$what: the build host fetched from the cache" "the target fetched" \
    "$(grep -F "[build host $b1]" <<<"$err" | grep -E 'copied|nothing to copy')"
  # big came from the cache, not from a build
  expect_eq "$what: big on the build host is the cache's" "$cached_big" "$(sha256sum <"$(store_of b1)/$big")"
  expect_contains "$what: the build host's own substitution" "[build host $b1] copying path '$DEPLOY_STATE/store/$big'" "$err"
  # the target fetched both from the cache: the relay carried only the new paths
  kib=$(line_kib n1)
  [ "$kib" -lt 100 ] || fail "$what: the relay carried $kib KiB (peer: $peer_relay): $err"
  expect_contains "$what: the target fetched from the cache" "the target fetched" "$(grep -F "[n1] copied" <<<"$err")"
  expect_eq "$what: big on the target is the cache's" "$cached_big" "$(sha256sum <"$(store_of t1)/$big")"
  cmp "$(store_of t1)/$blob" "$DEPLOY_FLAKE/blob" || fail "$what: the target's blob differs"
  echo "$what: the deployer sent the build host $(line_kib "build host $b1") KiB (peer: $peer_inputs KiB) and relayed $(line_kib n1) KiB (peer: $peer_relay KiB):"
  grep -F -e "[n1] copied" -e "[build host $b1] copied" -e "nothing to copy" <<<"$err" | sed 's/^/  /'
  # its links name the store at the deployer's path, which only the target's namespace maps
  run_fl remote-exec -i "$SSHD_CLIENT_KEY" --target-host "$t1" -- cat "$DEPLOY_WORK/targets/t1/root/etc/static/greeting"
  expect_eq "$what: the target runs v2" "v2" "$out"
  tail -n +"$((nlog + 1))" "$NGINX_LOG" | grep -q "GET /c/nar/.*\.nar\.zst HTTP/1.1\" 200" ||
    fail "$what: nginx served no NAR"
  verify_store t1
  verify_store b1
}

cached_deploy "flags" --substituters "$NGINX_URL/c" --trusted-public-key "$pub"

# the host's own options, on fresh stores
for n in t1 b1; do
  rm -rf "$DEPLOY_WORK/targets/$n/state/"* "$DEPLOY_WORK/targets/$n/root/"*
done
touch "$DEPLOY_WORK/use-option"
cached_deploy "options"
echo "deploy_build_host_cache: ok"
