#!/usr/bin/env bash
# status_pull.sh - `flakectl status --on` for hosts that pull from a cache (real sshd targets,
# each its own store and record; a real nginx serving the cache): such a host is compared with
# the cache's pointer hosts/H as read from here, not with the flake: "current" when it runs
# what the pointer names (even though the flake moved on), "behind" after a newer push,
# "ahead" when the cache holds an older pointer than the one the host applied, "unknown" with
# the reason when the pointer is gone; a host deployed by push is still compared with the
# flake. AGAINST (table) and .against (JSON) say which source each row was compared with.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
source "$(dirname "$0")/lib/nginx-serve.bash"
deploy_setup
trap 'nginx_serve_stop; sshd_stop_all; rm -rf "$DEPLOY_WORK" 2>/dev/null; true' EXIT
chmod 755 "$DEPLOY_WORK"
specs=()
for n in p1 p2 p3 s1; do
    deploy_target_start $n >/dev/null
    specs+=("$n $SSHD_TARGET \"fleet\"")
    echo "{ ... }: { networking.hostName = \"$n\"; environment.etc.\"greeting\".text = \"hello $n\n\"; }" >"$DEPLOY_FLAKE/$n.nix"
done
deploy_write_flake "${specs[@]}"
git -C "$DEPLOY_FLAKE" init -q
c1=$(deploy_commit one)
cache=$DEPLOY_WORK/srv/cache
fl_deploy --quiet cache keygen st-1 -o "$DEPLOY_WORK/key.sec"
pub=$out
push() { # HOST: its toplevel and pointer into the cache
    fl_deploy --quiet cache push --to "file://$cache" --key "$DEPLOY_WORK/key.sec" --host "$1"
    expect_eq "cache push --host $1" 0 "$rc"
    chmod -R a+rX "$DEPLOY_WORK/srv"
}
for n in p1 p2 p3; do push $n; done
cp "$cache/hosts/p3" "$DEPLOY_WORK/p3.old"
nginx_serve "$DEPLOY_WORK/srv" || exit $?
url="$NGINX_URL/cache"
pull() { # HOST: the host pulls itself, in its own store and root
    local o
    o=$(target_run "$1" "$FLAKECTL" --state-dir "$DEPLOY_STATE" --root "$DEPLOY_WORK/targets/$1/root" \
        pull --host "$1" --from "$url" --trusted-public-key "$pub" 2>&1) || fail "pull of $1: $o"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
pull p1
pull p2
sed -i 's/hello p3/hey p3/' "$DEPLOY_FLAKE/p3.nix"
c1b=$(deploy_commit one-b)
push p3 # a second pointer for p3 (another toplevel), above the one saved
pull p3
ssh=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)
fl_deploy switch --on s1 "${ssh[@]}" --confirm-timeout 20
expect_eq "s1 deployed by push" 0 "$rc"

# the flake moves on; p2 gets a newer pointer; the cache goes back to p3's older pointer
sed -i 's/hello p1/hi p1/; ' "$DEPLOY_FLAKE/p1.nix"
sed -i 's/hello p2/hi p2/' "$DEPLOY_FLAKE/p2.nix"
c2=$(deploy_commit two)
push p2
cp "$DEPLOY_WORK/p3.old" "$cache/hosts/p3"

fl_deploy status --on @fleet "${ssh[@]}"
echo "$out"
expect_eq "status exits 0 (all reachable, no failure)" 0 "$rc"
row() { grep "^$1 " <<<"$out"; }
expect_contains "header" "HOST  GEN   REV           STATE        AGAINST  UPDATED               LAST ERROR" "$out"
expect_contains "p1 current against its cache although the flake moved" "p1    1     ${c1:0:12}  current      cache" "$(row p1)"
expect_contains "p2 behind its cache's newer pointer" "p2    1     ${c1:0:12}  behind       cache" "$(row p2)"
expect_contains "p3 ahead of the cache's older pointer" "p3    1     ${c1b:0:12}  ahead        cache" "$(row p3)"
expect_contains "s1 (pushed) against the flake" "s1    1     ${c1b:0:12}  behind       flake" "$(row s1)"

fl_deploy status --on @fleet --json "${ssh[@]}"
j() { jq -r "$1" <<<"$out"; }
p2top=$(sed -n 's/^StorePath: //p' "$cache/hosts/p2")
p2cnt=$(sed -n 's/^Counter: //p' "$cache/hosts/p2")
expect_eq "json p2 against the cache" "behind cache $url $p2cnt $p2top" \
    "$(j '.[] | select(.name=="p2") | "\(.state) \(.against.source) \(.against.url) \(.against.counter) \(.against.toplevel)"')"
expect_eq "json s1 against the flake" "behind flake" "$(j '.[] | select(.name=="s1") | "\(.state) \(.against.source)"')"
expect_eq "json p1 current" "current" "$(j '.[] | select(.name=="p1") | .state')"

# a pointer that is gone, and one changed in the cache (bad signature): unknown, with why
rm "$cache/hosts/p1"
sed -i 's/^Counter: .*/Counter: 99999999999999/' "$cache/hosts/p2"
fl_deploy status --on p1,p2 "${ssh[@]}"
echo "$out"
expect_contains "p1 unknown without its pointer" "unknown      cache" "$(row p1)"
expect_contains "p1's reason" "$url/hosts/p1 does not exist" "$(row p1)"
expect_contains "p2 unknown with a forged pointer" "unknown      cache" "$(row p2)"
expect_contains "p2's reason" "no valid signature by a trusted key" "$(row p2)"
fl_deploy status --on p1 --json "${ssh[@]}"
expect_contains "json reason" "does not exist" "$(j '.[0].against.error')"
echo "ok: status compares pull hosts with their cache's pointer"
