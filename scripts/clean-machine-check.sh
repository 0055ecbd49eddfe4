#!/usr/bin/env bash
# clean-machine-check.sh [COMMAND] - runs the README's test command (default: `bash .ci/run`)
# on a clean clone inside a fresh Debian 12 root made by debootstrap from Debian's packages
# alone, the way CI meets a new machine: nothing of this machine's earlier work (groups such
# as nixbld, users, files, services, installed packages) is visible there. It is what would
# have caught a suite that passed only because the machine had a nixbld group.
#
# Slow (the root installs the whole tool chain, then builds and tests twice): not a CI stage;
# run it before resolving an issue that changes what the tests rely on. Needs root.
# The root is a copy of tests/fixtures/debian-root.sh's cached one, removed afterwards; the
# log is kept in $CLEAN_CHECK_LOG (default /var/tmp/flakectl-clean-check.log).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
command=${1:-bash .ci/run}
log=${CLEAN_CHECK_LOG:-/var/tmp/flakectl-clean-check.log}
[ "$(id -u)" -eq 0 ] || { echo "clean-machine-check: needs root (chroot, mounts)" >&2; exit 2; }

cached=$(bash "$src/tests/fixtures/debian-root.sh")
work=$(mktemp -d /var/tmp/flakectl-clean.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
cp -a --reflink=auto "$cached/." "$root/"
rm -f "$root/.flakectl-fixture-complete"
# What a machine's installer writes and debootstrap does not: name resolution, and the host's
# own name in /etc/hosts (sudo looks it up).
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$(hostname)" \
    >"$root/etc/hosts"

# A clean clone of what is committed, with shared/ beside it as CI lays it (read-only).
mkdir -p "$root/ci"
git clone -q "$src" "$root/ci/main"
if [ -d "$src/../shared" ]; then
    cp -a "$src/../shared" "$root/ci/shared"
    chmod -R a-w "$root/ci/shared"
fi

echo "clean-machine-check: running '$command' in a fresh Debian root (log: $log)"
echo "clean-machine-check: getent group nixbld in the root: '$(chroot "$root" getent group nixbld || true)'"
rc=0
# A private mount namespace: the root's /proc, /sys, /dev and /tmp vanish with it.
unshare -m --propagation private /bin/bash -c '
    set -e
    root=$1; shift
    # The root must be a mount point, as / is on a machine: the tests make private mount
    # namespaces (unshare --propagation private), which fails on a plain directory.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount -t sysfs sys "$root/sys"
    # On a machine /sys has the cgroup hierarchy mounted in it; a fresh sysfs does not, and
    # without it systemd-nspawn cannot boot the containers of the services tests (all skipped).
    mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    mount -t tmpfs tmpfs "$root/run"
    # pivot_root, not chroot: the root must be the root of this mount namespace. A program
    # that setns(2)es back into its saved mount namespace (Nix 2.8 does before running git
    # for fetchGit) would leave a chroot for the root of the machine and write there.
    cd "$root"
    mkdir -p .old-root
    pivot_root . .old-root
    umount -l /.old-root
    rmdir /.old-root
    exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root CI=true LANG=C.UTF-8 /bin/bash -c "cd /ci/main && $*" </dev/null
' sh "$root" "$command" >"$log" 2>&1 || rc=$?
tail -n 15 "$log"
echo "clean-machine-check: exit $rc"
exit "$rc"
