# homelab-node2: a k3s agent joining node1.
{ config, lib, ... }:
{
  networking.hostName = "homelab-node2";

  homelab.k3s = {
    enable = true;
    role = "agent";
    serverAddr = "https://homelab-node1.home.arpa:6443";
  };

  homelab.vlans.vlan10 = { id = 10; address = "10.10.0.12/24"; };

  homelab.wireguard = {
    enable = true;
    address = "10.99.0.2/24";
    peers.homelab-node1 = {
      publicKey = "pR2wN5sXq0Jc7Vh1mLk9tYe4uA3bZ6dG8fH2jK5lM0o=";
      endpoint = "homelab-node1.home.arpa:51820";
      allowedIPs = [ "10.99.0.1/32" "10.10.0.0/24" ];
    };
  };

  # The monitoring timer is enough on the agent; keep the exporter off the small box.
  homelab.monitoring.exporterPort = 9101;
}
