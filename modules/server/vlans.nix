# VLAN-style networking: tagged sub-interfaces written as systemd-networkd files.
{ config, lib, ... }:
let
  cfg = config.homelab.vlans;
  inherit (lib) mkOption types;
  vlan = types.submodule ({ name, ... }: {
    options = {
      id = mkOption {
        type = types.int;
        description = "The 802.1Q tag.";
      };
      parent = mkOption {
        type = types.str;
        default = "eth0";
        description = "The physical interface.";
      };
      address = mkOption {
        type = types.str;
        description = "Address with prefix length.";
      };
    };
  });
in
{
  options.homelab.vlans = mkOption {
    type = types.attrsOf vlan;
    default = { };
    description = "VLAN interfaces by name.";
  };

  config.environment.etc = lib.mkMerge (lib.mapAttrsToList (name: v: {
    "systemd/network/20-${name}.netdev".text = ''
      [NetDev]
      Name=${name}
      Kind=vlan

      [VLAN]
      Id=${toString v.id}
    '';
    "systemd/network/20-${name}.network".text = ''
      [Match]
      Name=${name}

      [Network]
      Address=${v.address}
    '';
  }) cfg);
}
