# Internal DNS: every homelab name resolvable on every node.
{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.dns;
  inherit (lib) mkOption mkIf types;
in
{
  options.homelab.dns = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Serve and use the internal zone.";
    };
    domain = mkOption {
      type = types.str;
      default = "home.arpa";
      description = "The internal zone.";
    };
    records = mkOption {
      type = types.attrsOf types.str;
      default = {
        homelab-node1 = "10.10.0.11";
        homelab-node2 = "10.10.0.12";
      };
      description = "Name → IPv4 address.";
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ pkgs.dnsmasq ];
    networking.domain = cfg.domain;
    networking.extraHosts = lib.concatStringsSep "\n"
      (lib.mapAttrsToList (name: ip: "${ip} ${name}.${cfg.domain} ${name}") cfg.records);
    environment.etc."dnsmasq.d/homelab.conf".text = ''
      domain=${cfg.domain}
      local=/${cfg.domain}/
    '' + lib.concatMapStringsSep "\n" (name: "address=/${name}.${cfg.domain}/${cfg.records.${name}}")
      (lib.attrNames cfg.records) + "\n";
  };
}
