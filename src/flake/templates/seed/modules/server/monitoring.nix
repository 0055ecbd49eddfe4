# Node metrics and a health check timer: a module that declares its own options.
{ config, lib, pkgs, ... }:
let
  cfg = config.homelab.monitoring;
  inherit (lib) mkOption mkIf types;
  healthcheck = pkgs.writeShellScript "healthcheck" ''
    df -h / | tail -n 1
    systemctl is-system-running || true
  '';
in
{
  options.homelab.monitoring = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Run the Prometheus node exporter and a health check timer.";
    };
    exporterPort = mkOption {
      type = types.port;
      default = 9100;
      description = "Port of the node exporter.";
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ pkgs.prometheus-node-exporter ];
    systemd.services.node-exporter = {
      description = "Prometheus node exporter";
      wantedBy = [ "multi-user.target" ];
      # Debian's package starts its own unit on the same port: replace it.
      unitConfig.Conflicts = "prometheus-node-exporter.service";
      serviceConfig = {
        ExecStart = "${pkgs.prometheus-node-exporter}/bin/prometheus-node-exporter --web.listen-address=:${toString cfg.exporterPort}";
        DynamicUser = true;
        Restart = "on-failure";
      };
    };
    systemd.services.healthcheck = {
      description = "Periodic health check";
      script = "${healthcheck}";
      serviceConfig.Type = "oneshot";
    };
    systemd.timers.healthcheck = {
      description = "Run the health check every 15 minutes";
      wantedBy = [ "timers.target" ];
      timerConfig.OnCalendar = "*:0/15";
    };
  };
}
