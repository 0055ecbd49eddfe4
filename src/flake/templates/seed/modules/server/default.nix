# Server role: monitoring and a hardened SSH daemon. Roles are modules with options, so a
# host sets only the values that differ.
{ config, lib, host, ... }:
{
  imports = [ ./monitoring.nix ];

  homelab.monitoring.enable = lib.mkDefault true;

  environment.etc."ssh/sshd_config.d/10-flakectl.conf".text = ''
    PasswordAuthentication no
    PermitRootLogin prohibit-password
  '';

  assertions = [
    {
      assertion = host.isLinux;
      message = "modules/server only supports Linux hosts, not ${host.platform}";
    }
  ];
}
