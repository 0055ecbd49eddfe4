# deploy_substitute.sh - a deployment's target fetches from the binary cache itself (a real
# nginx serving a cache on 127.0.0.1, real sshd targets each with its own store): with
# --substituters the target substitutes the 1 MiB blob the cache has (signature checked with
# the key the deployer names, nginx's log shows the target's requests) and SSH carries only
# the new paths; the same through the host's store.substituters option; a cache the target
# cannot reach (a dead port; a file:// cache that exists only on the deployer), and an entry
# signed by a key the target is not told to trust, fall back to copying everything over
# SSH. Every target's store verifies afterwards.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
source "$(dirname "$0")/lib/nginx-serve.bash"
deploy_setup_cache

hosts=(direct opt dead local untrusted plain)
specs=()
for n in "${hosts[@]}"; do
  deploy_target_start $n >/dev/null
  specs+=("$n $SSHD_TARGET \"all\"")
done
deploy_write_flake "${specs[@]}"
head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
for n in "${hosts[@]}"; do
  cat >"$DEPLOY_FLAKE/$n.nix" <<EOF
{ lib, ... }: {
  networking.hostName = "$n";
  environment.etc."blob".source = ./blob;
  environment.etc."greeting".text = lib.mkDefault "v1\n";
  store.substituters = lib.mkIf (builtins.pathExists $DEPLOY_WORK/use-option && "$n" == "opt") [ "$NGINX_URL/c" ];
  store.trustedPublicKeys = lib.mkIf (builtins.pathExists $DEPLOY_WORK/use-option && "$n" == "opt") [ (builtins.readFile $DEPLOY_WORK/pub) ];
}
EOF
done
run_fl cache keygen deploy-cache-1 -o "$DEPLOY_WORK/key.sec"
pub=$out
printf '%s' "$pub" >"$DEPLOY_WORK/pub"
run_fl cache keygen other-1 -o "$DEPLOY_WORK/other.sec"
otherpub=$out
# the cache: every host's first closure (the blob in it), served by nginx
for n in "${hosts[@]}"; do
  fl_deploy --quiet cache push --to "file://$DEPLOY_WORK/srv/c" --key "$DEPLOY_WORK/key.sec" --host $n
  expect_eq "push $n: $err" 0 "$rc"
done
chmod -R a+rX "$DEPLOY_WORK/srv"
# the deployer's own store also serves as a cache that only the deployer can see: under its
# state directory, which each target's namespace covers with its own
fl_deploy --quiet cache push --to "file://$DEPLOY_STATE/local-cache" --key "$DEPLOY_WORK/key.sec" --host local
expect_eq "push local: $err" 0 "$rc"

# a new greeting everywhere: the toplevels are new (in no cache), the blob is in the cache
for n in "${hosts[@]}"; do sed -i 's/"v1\\n"/"v2\\n"/' "$DEPLOY_FLAKE/$n.nix"; done
copied_kib() { # the copy line's size in KiB (0 when nothing was copied)
  local line
  line=$(grep "^\[$1\] copied " <<<"$err" | head -1)
  [ -n "$line" ] || { echo 0; return; }
  sed 's/.*copied [0-9]* paths (\([0-9.]*\) \([KMG]\?i\?B\)).*/\1 \2/' <<<"$line" |
    awk '{ m = $2 == "B" ? 1/1024 : $2 == "KiB" ? 1 : $2 == "MiB" ? 1024 : 1048576; printf "%d", $1 * m }'
}
verify_on() { # a target's own store, checked there
  run_fl remote-exec -i "$SSHD_CLIENT_KEY" --target-host "$(sshd_info $1 target)" -- \
    flakectl store verify --check-contents
  expect_eq "$1's store verifies: $out $err" 0 "$rc"
  expect_eq "$1 has the blob" "$(sha256sum <"$DEPLOY_FLAKE/blob")" \
    "$(sha256sum <"$DEPLOY_WORK/targets/$1/root/etc/static/blob")"
  expect_eq "$1 runs v2" "v2" "$(cat "$DEPLOY_WORK/targets/$1/root/etc/static/greeting")"
}

# the peer: no cache, everything over SSH
fl_deploy switch --on plain -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "plain deploy: $err" 0 "$rc"
plain_kib=$(copied_kib plain)
[ "$plain_kib" -ge 1024 ] || fail "the copy without a cache sent only $plain_kib KiB: $err"
verify_on plain

# --substituters: the target fetches the blob from nginx, SSH carries the rest
fl_deploy switch --on direct -i "$SSHD_CLIENT_KEY" --accept-new-host-key \
  --substituters "$NGINX_URL/c" --trusted-public-key "$pub"
expect_eq "direct deploy: $err" 0 "$rc"
kib=$(copied_kib direct)
[ "$kib" -lt 100 ] || fail "with the cache SSH still carried $kib KiB (without: $plain_kib): $err"
expect_contains "direct: the copy line says what the target fetched" "the target fetched" "$(grep '^\[direct\] copied' <<<"$err")"
expect_contains "direct: the target's own progress" "[direct] copying path '" "$err"
blob_nar=$(grep -l "StorePath: .*-blob$" "$DEPLOY_WORK"/srv/c/*.narinfo | head -1)
grep -q "GET /c/$(basename "$blob_nar") HTTP/1.1\" 200" "$NGINX_LOG" || fail "nginx saw no request for the blob's narinfo"
grep -q "GET /c/nar/.*\.nar\.zst HTTP/1.1\" 200" "$NGINX_LOG" || fail "nginx served no NAR"
verify_on direct

# store.substituters / store.trustedPublicKeys of the host itself
touch "$DEPLOY_WORK/use-option"
fl_deploy switch --on opt -i "$SSHD_CLIENT_KEY" --accept-new-host-key
expect_eq "opt deploy: $err" 0 "$rc"
kib=$(copied_kib opt)
[ "$kib" -lt 100 ] || fail "with store.substituters SSH still carried $kib KiB: $err"
expect_contains "opt: fetched by the target" "the target fetched" "$(grep '^\[opt\] copied' <<<"$err")"
verify_on opt
rm "$DEPLOY_WORK/use-option"

# fallback HOST URL KEY EXPECTED: a deployment whose target cannot use the cache still
# succeeds, the target says why (EXPECTED in its lines), and SSH carries everything
fallback() {
  fl_deploy switch --on "$1" -i "$SSHD_CLIENT_KEY" --accept-new-host-key \
    --substituters "$2" --trusted-public-key "$3"
  expect_eq "$1: the deployment succeeds: $err" 0 "$rc"
  expect_contains "$1: the target says why" "$4" "$(grep "^\[$1\]" <<<"$err")"
  kib=$(copied_kib "$1")
  [ "$kib" -ge 1024 ] || fail "$1: SSH carried only $kib KiB: $err"
  verify_on "$1"
}
# a cache nobody can reach
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fallback dead "http://127.0.0.1:$dead/c" "$pub" "warning: not using the cache http://127.0.0.1:$dead/c"
# a cache the deployer reads but the target cannot (the deployer's build uses it)
fallback local "file://$DEPLOY_STATE/local-cache" "$pub" \
  "warning: not using the cache file://$DEPLOY_STATE/local-cache"
# signed by a key the target is not told to trust: refused there
fallback untrusted "$NGINX_URL/c" "$otherpub" "not signed by any trusted key"
echo "deploy_substitute: ok"
