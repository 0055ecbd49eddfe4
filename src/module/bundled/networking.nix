# Built-in options: the machine's identity on the network.
{ lib, host, ... }:
let inherit (lib) mkOption types; in
{
  options.networking = {
    hostName = mkOption {
      type = types.str;
      default = host.name;
      defaultText = "the host's name in flake.nix";
      description = "The machine's host name, written to /etc/hostname on Linux.";
    };
    domain = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "The DNS domain of the machine, if any.";
    };
    extraHosts = mkOption {
      type = types.lines;
      default = "";
      description = "Lines appended to /etc/hosts.";
    };
  };
}
