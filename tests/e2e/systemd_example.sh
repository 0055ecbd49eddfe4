#!/usr/bin/env bash
# systemd_example.sh - the bundled example's homelab-node1, switched for real inside a booted
# Debian 12 container (systemd-nspawn): its units loaded and started by systemd, its /etc
# files, users and secrets in place; then a change and a rollback. Checked with systemctl,
# getent and the files, never with flakectl's own output. k3s cannot run in this container
# (it needs kernel modules, cgroup delegation and a network) and its release cannot be
# downloaded here: as in the other example tests (lib/example.bash) a STAND-IN is installed
# through the same pkgs.fetchurl + installBinary path, here a shell loop that stays up, and
# its unit is made Type=simple because the stand-in does not speak sd_notify. Everything else
# is the example as users get it, including its packages (wireguard-tools, dnsmasq,
# prometheus-node-exporter, ...) from Debian's mirror: the container runs on a private
# network, so they are installed into the root beforehand by apt itself (in a non-booted
# nspawn on the host's network), and the switch finds them installed. This kernel has no
# wireguard module: wg-quick@wg0 gets a test-only condition on /sys/module/wireguard and the
# test asserts it was skipped for that. Prints the timings. Skips (77) where no container can
# boot or the mirror cannot be reached.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
source "$FLAKECTL_SRC/tests/e2e/lib/nspawn.bash"
nspawn_setup
flake=$NS_DIR/flake
source "$FLAKECTL_SRC/tests/e2e/lib/example.bash"
example_copy "$flake"
# The example's native packages, as its own plan names them, installed by apt into the root.
# (dry-activate under --root: apt simulates inside the root; nothing is written.)
pkgs=$(XDG_CACHE_HOME="$NS_DIR/cache" "$FLAKECTL" --root "$NS_DIR/root" --state-dir "$NS_DIR/plan-state" \
    --flake "$flake" dry-activate --host homelab-node1 2>/dev/null |
    sed -n 's/^    + \([a-z0-9.+-]*\) [^ ]* (apt)$/\1/p' | sort -u | tr '\n' ' ')
[ -n "$pkgs" ] || fail "the example's plan names no apt package"
systemd-nspawn -q -D "$NS_DIR/root" --register=no --keep-unit --pipe \
    env DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs" \
    >"$NS_DIR/apt.log" 2>&1 || { tail -5 "$NS_DIR/apt.log" >&2; echo "SKIP: apt cannot install the example's packages here (mirror unreachable?)" >&2; exit 77; }
echo "installed beforehand: $pkgs" >&2
# The flake is /flake inside; the stand-in runs as a daemon there.
printf '#!/bin/sh\necho "k3s stand-in $*"\nexec sleep infinity\n' >"$flake/k3s-standin"
sha=$(sha256sum "$flake/k3s-standin" | cut -d' ' -f1)
sed -i "s|file://$flake/|file:///flake/|; s|sha256 = \"[0-9a-f]*\"|sha256 = \"$sha\"|" "$flake/modules/server/k3s-standin.nix"
sed -i 's|^{ pkgs, ... }: {|{ pkgs, lib, ... }: {\n  systemd.services.k3s.serviceConfig.Type = lib.mkForce "simple";\n  systemd.services."wg-quick@wg0".unitConfig.ConditionPathExists = "/sys/module/wireguard";|' "$flake/modules/server/k3s-standin.nix"
# The example's demo host key (labelled example-only) stands in for the machine's ssh host key.
install -D -m 0600 "$flake/secrets/example-identities/homelab-node1.agekey" "$NS_DIR/root/etc/ssh/ssh_host_ed25519_key"
ms() { echo $((($2 - $1) / 1000000)); }

nspawn_boot
t0=$(date +%s%N)
fl_in --flake /flake switch --host homelab-node1 --backup-ext pre-flakectl
t1=$(date +%s%N)
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch exit" 0 "$rc"
echo "example first switch: $(ms "$t0" "$t1") ms (container boot ${NS_BOOT_MS} ms)" >&2

# Units: all loaded from the generation, none failed.
for u in k3s.service node-exporter.service wg-quick@wg0.service healthcheck.service healthcheck.timer; do
    expect_eq "$u loaded" loaded "$(unit_prop LoadState "$u")"
    expect_contains "$u from /etc/systemd/system" "/etc/systemd/system/" "$(unit_prop FragmentPath "$u")"
done
expect_eq "no failed unit" "" "$(nsx systemctl list-units --failed --plain --no-legend)"
expect_eq "healthcheck timer running" active "$(unit_active healthcheck.timer)"
expect_contains "healthcheck timer scheduled" "*:0/15" "$(nsx systemctl cat healthcheck.timer)"
expect_eq "node-exporter running (Debian's binary)" active "$(unit_active node-exporter)"
expect_eq "the distro's own exporter gave way" inactive "$(unit_active prometheus-node-exporter)"
nspawn_wait "node-exporter answers on :9100" 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9100 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && grep -q node_exporter_build_info <&3'
expect_eq "wg-quick@wg0 skipped: no wireguard module in this kernel" no "$(unit_prop ConditionResult wg-quick@wg0)"
expect_contains "wg-quick from the package" "/usr/bin/wg-quick up wg0" "$(unit_prop ExecStart wg-quick@wg0)"
expect_eq "dnsmasq (package) running" active "$(unit_active dnsmasq)"
expect_eq "k3s (the stand-in) running" active "$(unit_active k3s)"
expect_contains "k3s runs the store's binary" "/var/lib/flakectl/store/" "$(unit_prop ExecStart k3s)"
expect_contains "k3s command line" "/bin/k3s server --disable=traefik" "$(unit_prop ExecStart k3s)"
expect_contains "k3s said hello" "k3s stand-in server --disable=traefik" "$(nsx journalctl -u k3s --no-pager -o cat)"
expect_contains "multi-user.target wants k3s" k3s.service "$(unit_prop Wants multi-user.target)"
nsx systemctl start healthcheck.service
expect_eq "the health check runs (started by hand, as its timer would)" success "$(unit_prop Result healthcheck)"
expect_contains "its df line in the journal" "% /" "$(nsx journalctl -u healthcheck --no-pager -o cat)"

# /etc, users, secrets.
expect_contains "motd" "homelab-node1 (nixos, x86_64-linux)" "$(nsx cat /etc/motd)"
expect_contains "k3s config" "node-name: homelab-node1" "$(nsx cat /etc/rancher/k3s/config.yaml)"
expect_eq "wg0.conf root-only" "600 root" "$(nsx stat -L -c '%a %U' /etc/wireguard/wg0.conf)"
expect_contains "dnsmasq zone" "address=/homelab-node2.home.arpa/10.10.0.12" "$(nsx cat /etc/dnsmasq.d/homelab.conf)"
expect_eq "hostname" homelab-node1 "$(nsx cat /etc/hostname)"
expect_contains "alice is a user (getent)" "alice:x:1000:" "$(nsx getent passwd alice)"
expect_contains "deploy is a system user" "deploy:x:" "$(nsx getent passwd deploy)"
expect_contains "alice in wheel" "alice" "$(nsx getent group wheel)"
expect_eq "alice's home is hers" alice "$(nsx stat -c %U /home/alice)"
expect_contains "alice's git config" "name = Alice Admin" "$(nsx cat /home/alice/.config/git/config)"
expect_eq "k3s token decrypted in place" \
    "$(age -d -i "$flake/secrets/example-identities/homelab-node1.agekey" "$flake/secrets/k3s-token.age")" \
    "$(nsx cat /run/flakectl/secrets/k3s-token)"
expect_eq "wireguard key root-only" "400 root" "$(nsx stat -L -c '%a %U' /run/flakectl/secrets/wireguard-key)"

t0=$(date +%s%N)
fl_in --flake /flake switch --host homelab-node1
t1=$(date +%s%N)
expect_contains "no-op switch" "nothing to do" "$out"
echo "example no-op switch: $(ms "$t0" "$t1") ms" >&2

# A change (k3s flags and the motd), then a rollback.
sed -i 's|extraFlags = \[ "--disable=traefik" \];|extraFlags = [ "--disable=traefik" "--disable=servicelb" ];|' "$flake/hosts/homelab-node1/default.nix"
sed -i 's|managed by flakectl|managed by flakectl (edited)|' "$flake/modules/common/default.nix"
pid_k3s=$(unit_pid k3s)
t0=$(date +%s%N)
fl_in --flake /flake switch --host homelab-node1
t1=$(date +%s%N)
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "change switch exit" 0 "$rc"
echo "example switch restarting k3s: $(ms "$t0" "$t1") ms" >&2
expect_contains "k3s unit changed" "--disable=servicelb" "$(unit_prop ExecStart k3s)"
[ "$(unit_pid k3s)" != "$pid_k3s" ] || fail "k3s kept its old process"
expect_eq "k3s running after the change" active "$(unit_active k3s)"
expect_contains "motd changed" "(edited)" "$(nsx cat /etc/motd)"
fl_in rollback
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "rollback exit" 0 "$rc"
expect_not_contains "k3s unit rolled back" "--disable=servicelb" "$(unit_prop ExecStart k3s)"
expect_eq "k3s running after the rollback" active "$(unit_active k3s)"
expect_not_contains "motd rolled back" "(edited)" "$(nsx cat /etc/motd)"
expect_eq "no failed unit after rollback" "" "$(nsx systemctl list-units --failed --plain --no-legend)"
expect_eq "timer still running" active "$(unit_active healthcheck.timer)"
fl_in generations
expect_contains "generation 1 current" "(current)" "$(echo "$out" | grep '^ *1 ')"
echo ok
