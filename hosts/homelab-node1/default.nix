# homelab-node1: the k3s server.
{ config, lib, ... }:
{
  networking.hostName = "homelab-node1";

  homelab.k3s = {
    enable = true;
    role = "server";
    extraFlags = [ "--disable=traefik" ];
  };

  homelab.vlans = {
    vlan10 = { id = 10; address = "10.10.0.11/24"; };
    vlan20 = { id = 20; address = "10.20.0.11/24"; };
  };

  homelab.wireguard = {
    enable = true;
    address = "10.99.0.1/24";
    peers.homelab-node2 = {
      publicKey = "Fq8CDrV8zXQ9m1cH3pN9Qy1e0aB7vXb3T2m6yN0dQhU=";
      endpoint = "homelab-node2.home.arpa:51820";
      allowedIPs = [ "10.99.0.2/32" ];
    };
  };

  environment.etc."hostname-note".text = "the control plane lives here\n";
}
