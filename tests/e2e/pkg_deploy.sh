# pkg_deploy.sh - native packages on a remote deploy: `switch --target-host` against a real sshd
# whose target root is a copy of the cached Debian 12 root. The packages step runs on the
# target (its own `flakectl activate`, its apt inside its root), its output comes back
# prefixed by the host name, and the builder installs nothing.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
source "$(dirname "$0")/lib/debian-root.bash"
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot and mounts on the target)"; exit 77; }
deploy_setup
troot=$DEPLOY_WORK/targets/n1/root
debian_root_copy "$troot"
rm -f "$troot/etc/hostname"
deploy_target_start n1
T=$SSHD_TARGET
deploy_write_flake "n1 $T \"web\""
echo '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ hello sl ]; }' >"$DEPLOY_FLAKE/n1.nix"

fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "deploy exit" 0 "$rc"
expect_contains "the plan comes back prefixed" "[n1]     + hello (apt)" "$out"
expect_eq "installed on the target" "hello sl " \
  "$(chroot "$troot" dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' hello sl | awk '$2 == "ii" { print $1 }' | tr '\n' ' ')"
expect_eq "owned on the target" "hello sl" \
  "$(jq -r '.owned | keys | join(" ")' "$DEPLOY_WORK/targets/n1/state/packages/owned.json")"
expect_eq "nothing on the builder" "" "$(ls "$DEPLOY_WORK/localroot")$(ls "$DEPLOY_STATE/packages" 2>/dev/null)"
expect_eq "no mount left on the target root" "0" "$(grep -c " $troot/" /proc/mounts || true)"

# drop sl: removed on the target
echo '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ hello ]; }' >"$DEPLOY_FLAKE/n1.nix"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "second deploy exit" 0 "$rc"
expect_contains "removal prefixed" "[n1]     - sl" "$out"
expect_eq "sl removed on the target" "" \
  "$(chroot "$troot" dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' sl 2>/dev/null | awk '$2 == "ii" { print $1 }')"
echo ok
