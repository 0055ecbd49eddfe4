# apt-box.bash - the setup the tests of native packages through real apt share (sourced after
# expect.sh and debian-root.bash, as root): $work (removed at exit), $root (a private copy
# of the cached Debian 12 root, the host "box"'s --root), $flake (host box, whose packages
# declare_pkgs writes), FLAKECTL_STATE_DIR/FLAKECTL_ROOT exported for run_fl, and
# installed NAME... (the names dpkg has installed inside the root).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
debian_root_copy "$root"
rm -f "$root/etc/hostname"
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$root"
flake="$work/flake"
mkdir -p "$flake"
cat >"$flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.box = { system = "x86_64-linux"; modules = [ ./packages.nix ]; }; }; }
NIX
declare_pkgs() { printf '{ pkgs, ... }: { environment.systemPackages = with pkgs; [ %s ]; }\n' "$1" >"$flake/packages.nix"; }
installed() { chroot "$root" dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null | awk '$2 == "ii" { print $1 }' | tr '\n' ' '; }
