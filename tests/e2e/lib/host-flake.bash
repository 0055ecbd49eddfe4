# host-flake.bash - a flake with one host `h` (x86_64-linux, nixos) whose only module is
# DIR/host.nix, which the test writes. Used by the security_*.sh tests and tests/bench/kill9.sh.
# host_flake DIR: writes DIR/flake.nix (DIR is made).
host_flake() {
    mkdir -p "$1"
    cat >"$1/flake.nix" <<'NIX'
{ outputs = { self, ... }: {
    hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; };
  }; }
NIX
}
