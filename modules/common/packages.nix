# Packages every machine gets: native packages from flakectl's package index (installed by
# apt on Debian/Ubuntu/WSL, dnf, pacman or Homebrew on the Mac) and two small store packages
# built from scripts (linked into the profile's sw/).
{ lib, pkgs, host, ... }:
let
  sysinfo = pkgs.writeShellScriptBin "sysinfo" ''
    echo "host: $(hostname)"
    echo "platform: ${host.platform} (${host.system})"
    uptime
  '';
  flakeRebuild = pkgs.writeShellScriptBin "rebuild" ''
    exec flakectl switch --host ${host.name} "$@"
  '';
in
{
  environment.systemPackages = with pkgs; [ git ripgrep htop jq tmux curl ] ++ [ sysinfo flakeRebuild ];
}
