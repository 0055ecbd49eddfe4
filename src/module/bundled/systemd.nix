# Built-in options: systemd services and timers, rendered to unit files.
{ lib, host, ... }:
let
  inherit (lib) mkOption types;
  unitValue = types.oneOf [ types.str types.int types.bool (types.listOf types.str) ];
  commonUnit = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether the unit is installed.";
    };
    description = mkOption {
      type = types.str;
      default = "";
      description = "The unit's Description=.";
    };
    wantedBy = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Targets that want this unit ([Install] WantedBy=).";
    };
    after = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Units this one starts after.";
    };
    requires = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Units this one requires.";
    };
    wants = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Units this one wants.";
    };
    unitConfig = mkOption {
      type = types.attrsOf unitValue;
      default = { };
      description = "Extra [Unit] settings.";
    };
  };
  service = types.submodule ({ name, ... }: {
    options = commonUnit // {
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Environment variables of the service.";
      };
      path = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "Packages whose bin/ directories are put on the service's PATH.";
      };
      script = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands run as the service's ExecStart.";
      };
      preStart = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands run as ExecStartPre.";
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
        description = "[Service] settings.";
      };
      restartTriggers = mkOption {
        type = types.listOf types.anything;
        default = [ ];
        description = "Values whose change restarts the service at activation.";
      };
      reloadTriggers = mkOption {
        type = types.listOf types.anything;
        default = [ ];
        description = "Values whose change reloads (not restarts) the service at activation.";
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
        description = "Whether a changed unit is restarted at activation (false: left running).";
      };
      reloadIfChanged = mkOption {
        type = types.bool;
        default = false;
        description = "Whether a changed service is reloaded (systemctl reload, its ExecReload) rather than restarted at activation, as NixOS's X-ReloadIfChanged.";
      };
      stopIfChanged = mkOption {
        type = types.bool;
        default = true;
        description = "Whether a changed service is stopped with its old unit before the new one is loaded and started after (as NixOS), rather than restarted once the new one is loaded.";
      };
    };
  });
  timer = types.submodule ({ name, ... }: {
    options = commonUnit // {
      timerConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
        description = "[Timer] settings (OnCalendar, Persistent, Unit, ...).";
      };
    };
  });
  socket = types.submodule ({ name, ... }: {
    options = commonUnit // {
      listenStreams = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Addresses to listen on for a stream ([Socket] ListenStream=), e.g. \"127.0.0.1:8080\" or \"/run/app.sock\".";
      };
      listenDatagrams = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Addresses to listen on for datagrams ([Socket] ListenDatagram=).";
      };
      socketConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
        description = "Further [Socket] settings (Accept, Service, SocketMode, ...).";
      };
    };
  });
in
{
  options.systemd = {
    services = mkOption {
      type = types.attrsOf service;
      default = { };
      description = "systemd services, rendered to units/<name>.service.";
    };
    timers = mkOption {
      type = types.attrsOf timer;
      default = { };
      description = "systemd timers, rendered to units/<name>.timer.";
    };
    sockets = mkOption {
      type = types.attrsOf socket;
      default = { };
      description = "systemd sockets, rendered to units/<name>.socket (the service of the same name, or <name>@.service with Accept = true, is started on the first connection).";
    };
  };
}
