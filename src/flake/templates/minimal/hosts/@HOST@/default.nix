# @HOST@: what this machine should look like. `flakectl option --host @HOST@ NAME` shows an
# option's type, default and description; `flakectl switch` applies this file.
{ config, lib, pkgs, host, ... }:
{
  networking.hostName = "@HOST@";

  environment.systemPackages = with pkgs; [ git htop ];

  environment.etc."motd".text = ''
    ${config.networking.hostName}: managed by flakectl
  '';
}
