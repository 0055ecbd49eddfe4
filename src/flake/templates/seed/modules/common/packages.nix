# Packages every machine gets: names from flakectl's package index, installed by the native
# package manager (apt, dnf, pacman; Homebrew on the Mac), and a small script built into the
# store and linked into the profile.
{ lib, pkgs, host, ... }:
let
  sysinfo = pkgs.writeShellScriptBin "sysinfo" ''
    echo "host: ${host.name} (${host.platform}, ${host.system})"
    uptime
  '';
in
{
  environment.systemPackages = with pkgs; [ git htop jq tmux curl ] ++ [ sysinfo ];
}
