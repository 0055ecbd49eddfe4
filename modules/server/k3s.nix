# A k3s node: one server, the rest agents joining it.
{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.k3s;
  inherit (lib) mkOption mkIf types;
in
{
  options.homelab.k3s = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Run a k3s node.";
    };
    role = mkOption {
      type = types.enum [ "server" "agent" ];
      default = "agent";
      description = "Whether this node runs the control plane or only workloads.";
    };
    serverAddr = mkOption {
      type = types.str;
      default = "";
      description = "https://host:6443 of the server, for agents.";
    };
    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra command-line flags.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.role == "server" || cfg.serverAddr != "";
        message = "homelab.k3s.serverAddr must be set on an agent";
      }
    ];
    environment.etc."rancher/k3s/config.yaml".text = ''
      node-name: ${config.networking.hostName}
      ${lib.optionalString (cfg.role == "agent") "server: ${cfg.serverAddr}"}
      token-file: /run/flakectl/secrets/k3s-token
    '';
    age.secrets.k3s-token = {
      file = ../../secrets/k3s-token.age;
      restartUnits = [ "k3s.service" ];
    };
    systemd.services.k3s = {
      description = "k3s ${cfg.role}";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      # k3s comes from its own installer, not a package manager: no binary, no start (the
      # unit is skipped, not failed, so the rest of the host still switches).
      unitConfig.ConditionPathExists = "/usr/local/bin/k3s";
      serviceConfig = {
        Type = "notify";
        Restart = "always";
        ExecStart = lib.concatStringsSep " " ([ "/usr/local/bin/k3s" cfg.role ] ++ cfg.extraFlags);
      };
      restartTriggers = [ config.environment.etc."rancher/k3s/config.yaml".text ];
    };
  };
}
