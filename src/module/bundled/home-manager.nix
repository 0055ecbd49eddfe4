# Built-in options: per-user files and programs, home-manager style.
{ lib, host, ... }:
let
  inherit (lib) mkOption types;
  homeFile = types.submodule ({ name, ... }: {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether the file is installed.";
      };
      target = mkOption {
        type = types.str;
        default = name;
        description = "Path relative to the home directory.";
      };
      text = mkOption {
        type = types.nullOr types.lines;
        default = null;
        description = "The file's text; exclusive with source.";
      };
      source = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "Path of the file's content; exclusive with text.";
      };
      executable = mkOption {
        type = types.bool;
        default = false;
        description = "Whether the file is executable.";
      };
      copy = mkOption {
        type = types.bool;
        default = false;
        description = "Copy instead of link, for applications that rewrite their own settings; re-copied only when the declared content changes.";
      };
    };
  });
  shell = name: {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to manage ${name}'s configuration.";
    };
    shellAliases = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "Aliases defined in ${name}'s rc file.";
    };
    initExtra = mkOption {
      type = types.lines;
      default = "";
      description = "Lines appended to ${name}'s rc file.";
    };
  };
  # systemd user units (`systemctl --user`), written either as NixOS writes system units
  # (script, serviceConfig, wantedBy, unitConfig, ...) or in home-manager's form: one attribute
  # set per unit file section (Unit, Service / Socket / Timer, Install), keys as systemd spells
  # them. Both may be mixed; a section's keys win over the NixOS-style options (docs/services.md).
  primitive = types.oneOf [ types.str types.int types.bool types.path ];
  unitValue = types.either primitive (types.listOf primitive);
  sectionOpt = name: what: mkOption {
    type = types.attrsOf unitValue;
    default = { };
    description = "The [${name}] section in home-manager's form (keys as systemd spells them; a list repeats the key)${what}.";
  };
  userUnitCommon = {
    description = mkOption { type = types.str; default = ""; description = "Description=."; };
    after = mkOption { type = types.listOf types.str; default = [ ]; description = "Units it starts after."; };
    wants = mkOption { type = types.listOf types.str; default = [ ]; description = "Units it wants."; };
    unitConfig = mkOption {
      type = types.attrsOf unitValue;
      default = { };
      description = "Further [Unit] settings, as NixOS's unitConfig (X-SwitchMethod, RefuseManualStop, ...).";
    };
    Unit = sectionOpt "Unit" "; X-Restart-Triggers and X-Reload-Triggers restart or reload the unit when they change, X-SwitchMethod (reload, restart, stop-start, keep-old) says how a changed unit is switched";
    Install = sectionOpt "Install" "; WantedBy and RequiredBy make the .wants and .requires links and start the unit with those targets";
  };
  # Sockets and timers are wanted by nothing unless told, as in NixOS and home-manager.
  wantedByNone = target: what: mkOption {
    type = types.listOf types.str;
    default = [ ];
    description = "User targets that want it, usually [ \"${target}\" ] ([Install] WantedBy=, with Install.WantedBy)${what}.";
  };
  userService = types.submodule {
    options = userUnitCommon // {
      wantedBy = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        description = "User targets that want it ([Install] WantedBy=, with Install.WantedBy). null: [ \"default.target\" ] for a service written with `script`, none for one written in home-manager's form (Service.ExecStart), which home-manager enables only through Install.WantedBy.";
      };
      environment = mkOption { type = types.attrsOf types.str; default = { }; description = "Its environment."; };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStart."; };
      serviceConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
        description = "[Service] settings.";
      };
      Service = sectionOpt "Service" "";
      restartTriggers = mkOption { type = types.listOf types.anything; default = [ ]; description = "Values whose change restarts it."; };
      reloadTriggers = mkOption { type = types.listOf types.anything; default = [ ]; description = "Values whose change reloads it."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Whether a change restarts it."; };
    };
  };
  userSocket = types.submodule {
    options = userUnitCommon // {
      wantedBy = wantedByNone "sockets.target" "; its service starts on the first connection";
      listenStreams = mkOption { type = types.listOf types.str; default = [ ]; description = "ListenStream= addresses (a port, host:port or a path)."; };
      listenDatagrams = mkOption { type = types.listOf types.str; default = [ ]; description = "ListenDatagram= addresses."; };
      socketConfig = mkOption { type = types.attrsOf unitValue; default = { }; description = "Further [Socket] settings (Accept, Service, ...)."; };
      Socket = sectionOpt "Socket" "";
    };
  };
  userTimer = types.submodule {
    options = userUnitCommon // {
      wantedBy = wantedByNone "timers.target" "";
      timerConfig = mkOption { type = types.attrsOf unitValue; default = { }; description = "[Timer] settings (OnCalendar, OnActiveSec, Unit, ...)."; };
      Timer = sectionOpt "Timer" "";
    };
  };
  homeUser = types.submodule ({ name, config, ... }: {
    options = {
      home.username = mkOption {
        type = types.str;
        default = name;
        description = "The user these files belong to.";
      };
      home.homeDirectory = mkOption {
        type = types.str;
        default = (if host.isDarwin then "/Users/" else "/home/") + name;
        description = "The user's home directory.";
      };
      home.file = mkOption {
        type = types.attrsOf homeFile;
        default = { };
        description = "Files in the home directory, keyed by their path relative to it.";
      };
      home.sessionVariables = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Variables exported by the user's login shell.";
      };
      home.sessionPath = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Directories prepended to PATH, in order.";
      };
      home.shellAliases = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Aliases for every managed shell.";
      };
      home.packages = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = "Packages for this user: store packages link into the user's profile; native packages (pkgs.<name>, pkgs.native) are installed system-wide by the host's manager, as environment.systemPackages.";
      };
      programs.git = {
        enable = mkOption {
          type = types.bool;
          default = false;
          description = "Whether to write ~/.config/git/config.";
        };
        userName = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "user.name";
        };
        userEmail = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "user.email";
        };
        aliases = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "[alias] entries.";
        };
        extraConfig = mkOption {
          type = types.attrsOf (types.attrsOf (types.oneOf [ types.str types.int types.bool ]));
          default = { };
          description = "Further sections: { section = { key = value; }; }.";
        };
        ignores = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Global ignore patterns.";
        };
      };
      programs.bash = shell "bash";
      programs.zsh = shell "zsh";
      systemd.user.services = mkOption {
        type = types.attrsOf userService;
        default = { };
        description = "systemd user services, in ~/.config/systemd/user, driven with `systemctl --user` where the user's manager runs (loginctl enable-linger, or a session).";
      };
      systemd.user.sockets = mkOption {
        type = types.attrsOf userSocket;
        default = { };
        description = "systemd user sockets, in ~/.config/systemd/user; started (with wantedBy = [ \"sockets.target\" ]) before the service they activate.";
      };
      systemd.user.timers = mkOption {
        type = types.attrsOf userTimer;
        default = { };
        description = "systemd user timers, in ~/.config/systemd/user; started with wantedBy = [ \"timers.target\" ].";
      };
    };
  });
in
{
  options.home-manager.users = mkOption {
    type = types.attrsOf homeUser;
    default = { };
    description = "Per-user configuration (home.file, programs.git, shells).";
  };
}
