# A WireGuard mesh between the homelab nodes.
{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.wireguard;
  inherit (lib) mkOption mkIf types;
  peer = types.submodule {
    options = {
      publicKey = mkOption {
        type = types.str;
        description = "The peer's WireGuard public key.";
      };
      endpoint = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "host:port, when the peer is reachable.";
      };
      allowedIPs = mkOption {
        type = types.listOf types.str;
        description = "Addresses routed to the peer.";
      };
    };
  };
in
{
  options.homelab.wireguard = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Configure the wg0 interface.";
    };
    address = mkOption {
      type = types.str;
      description = "This node's address on the mesh, with prefix length.";
    };
    listenPort = mkOption {
      type = types.port;
      default = 51820;
      description = "UDP port.";
    };
    peers = mkOption {
      type = types.attrsOf peer;
      default = { };
      description = "The other nodes, by name.";
    };
  };

  config = mkIf cfg.enable {
    age.secrets.wireguard-key = {
      file = ../../secrets/wireguard-${config.networking.hostName}.age;
      mode = "0400";
      restartUnits = [ "wg-quick@wg0.service" ];
    };
    environment.etc."wireguard/wg0.conf" = {
      mode = "0600";
      text = ''
        [Interface]
        Address = ${cfg.address}
        ListenPort = ${toString cfg.listenPort}
        PostUp = wg set %i private-key /run/flakectl/secrets/wireguard-key
      '' + lib.concatStrings (lib.mapAttrsToList (name: p: ''

        # ${name}
        [Peer]
        PublicKey = ${p.publicKey}
        AllowedIPs = ${lib.concatStringsSep ", " p.allowedIPs}
      '' + lib.optionalString (p.endpoint != null) "Endpoint = ${p.endpoint}\n") cfg.peers);
    };
    environment.systemPackages = [ pkgs.wireguard-tools ];
    systemd.services."wg-quick@wg0" = {
      description = "WireGuard wg0";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "/usr/bin/wg-quick up wg0";
        ExecStop = "/usr/bin/wg-quick down wg0";
      };
      restartTriggers = [ config.environment.etc."wireguard/wg0.conf".text ];
    };
  };
}
