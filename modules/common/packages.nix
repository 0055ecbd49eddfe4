# Packages every machine gets. flakectl has no package collection of its own: packages are
# small store paths built from scripts, or tools the platform already provides.
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
  environment.systemPackages = [ sysinfo flakeRebuild ];
}
