# Server role: k3s, monitoring, WireGuard, internal DNS and VLANs, each its own module with
# options, so hosts only set the values that differ.
{ config, lib, host, ... }:
{
  imports = [ ./k3s.nix ./monitoring.nix ./wireguard.nix ./dns.nix ./vlans.nix ];

  homelab.monitoring.enable = lib.mkDefault true;
  homelab.dns.enable = lib.mkDefault true;

  users.users.deploy = {
    isSystemUser = true;
    group = "deploy";
    description = "flakectl deployments";
  };
  users.groups.deploy = { };

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
