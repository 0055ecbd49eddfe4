# A k3s node: one server, the rest agents joining it. k3s ships as one static binary that no
# distribution packages: the node runs a pinned upstream release, downloaded once into the
# store and checked against its hash (pkgs.fetchurl), installed as bin/k3s (docs/packages-upstream.md).
{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.k3s;
  inherit (lib) mkOption mkIf types;
  # The release's amd64 binary; its sha256 is the one kubekey pins for v1.24.7
  # (version/components.json), the same as the release's sha256sum-amd64.txt.
  release = pkgs.installBinary {
    name = "k3s";
    version = "1.24.7+k3s1";
    src = pkgs.fetchurl {
      url = "https://github.com/k3s-io/k3s/releases/download/v1.24.7%2Bk3s1/k3s";
      sha256 = "ec346c909f23b32f9ab7c3ccf5bfa74c89a0515191701ede83556345b70abdca";
    };
  };
  # null means the pinned release; only read when the node is enabled, so a disabled node
  # (or `flakectl check` of one) never downloads anything.
  k3s = if cfg.package == null then release else cfg.package;
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
    package = mkOption {
      type = types.nullOr types.package;
      default = null;
      description = ''
        The package providing bin/k3s; null (the default) is the pinned upstream release
        (v1.24.7+k3s1, fetched by URL and checked against its sha256).
      '';
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
    environment.systemPackages = [ k3s ];
    systemd.services.k3s = {
      description = "k3s ${cfg.role}";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      serviceConfig = {
        Type = "notify";
        Restart = "always";
        ExecStart = lib.concatStringsSep " " ([ "${k3s}/bin/k3s" cfg.role ] ++ cfg.extraFlags);
      };
      restartTriggers = [ config.environment.etc."rancher/k3s/config.yaml".text ];
    };
  };
}
