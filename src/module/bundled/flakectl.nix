# Built-in options: pull mode (docs/pull.md). services.flakectl.pull declares a timer that
# runs `flakectl pull` on the host itself: a systemd service and timer on Linux, a launchd
# daemon on macOS (it switches the system, so it runs as root, not as a user's agent).
{ lib, host, config, ... }:
let
  inherit (lib) mkOption mkIf types escapeShellArgs concatMap optionals;
  cfg = config.services.flakectl.pull;
  args = [ cfg.package "pull" "--host" cfg.host "--from" cfg.from ]
    ++ concatMap (k: [ "--trusted-public-key" k ]) cfg.trustedPublicKeys
    ++ concatMap (k: [ "--allowed-signer" k ]) cfg.allowedSigners
    ++ optionals (cfg.ref != null) [ "--ref" cfg.ref ]
    ++ optionals (cfg.stateDir != null) [ "--state-dir" cfg.stateDir ]
    ++ cfg.extraArgs;
  command = "exec ${escapeShellArgs args}";
  # launchd counts in seconds: "90", "90s", "15min", "2h", "1d" (systemd's common spans)
  spanMatch = builtins.match "([0-9]+) *(s|sec|m|min|h|hr|d)?" cfg.interval;
  unitSeconds = { s = 1; sec = 1; m = 60; min = 60; h = 3600; hr = 3600; d = 86400; };
  intervalSeconds =
    let n = builtins.fromJSON (builtins.elemAt spanMatch 0); u = builtins.elemAt spanMatch 1;
    in n * (if u == null then 1 else unitSeconds.${u});
in
{
  options.services.flakectl.pull = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether the host pulls its own configuration on a timer (`flakectl pull`).";
    };
    from = mkOption {
      type = types.str;
      default = "";
      example = "https://cache.example.org";
      description = ''
        Where to pull from: a binary cache holding the signed pointer hosts/<host> (file://,
        http://, https://; written by `flakectl cache push --host H --key KEY`), or the
        flake's Git repository (git+https://..., git+ssh://..., git+file://...; ?ref=BRANCH),
        which the host then builds itself.
      '';
    };
    interval = mkOption {
      type = types.str;
      default = "15min";
      example = "1h";
      description = ''
        Time between pulls (and from the timer's start to the first), as systemd writes a
        time span. On macOS one of "N", "Ns", "Nmin", "Nh", "Nd".
      '';
    };
    randomizedDelay = mkOption {
      type = types.str;
      default = "0";
      example = "5min";
      description = "Linux: a random delay added to each run (systemd RandomizedDelaySec), so a fleet does not pull at one instant.";
    };
    trustedPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
      description = "Public keys (name:base64) whose signature makes a pointer and the closure it names acceptable. Required when pulling from a cache.";
    };
    allowedSigners = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1Xh7Rk0cBfNKz6lq6kJd6lGEn3c5f0rK2nQzY4v3Jm alice@example" ];
      description = "Git only: SSH ed25519 public keys (as in a .pub file), one of which must have signed (git commit -S with gpg.format=ssh) the commit the host pulls; an unsigned commit or one signed by another key is refused. Empty: commit signatures are not checked.";
    };
    host = mkOption {
      type = types.str;
      default = host.name;
      description = "The host's name in the flake and in the cache (hosts/<host>).";
    };
    ref = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "main";
      description = "Git: the branch or tag to follow (default: the URL's ?ref=, else the repository's HEAD).";
    };
    stateDir = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "flakectl's state directory on the host (--state-dir); null: flakectl's default.";
    };
    package = mkOption {
      type = types.str;
      default = "flakectl";
      example = "/usr/local/bin/flakectl";
      description = "The flakectl the timer runs: a path, or a name looked up on the service's PATH.";
    };
    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--mode" "boot" ];
      description = "Further arguments of `flakectl pull`.";
    };
  };

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [
        { assertion = cfg.from != ""; message = "services.flakectl.pull.from is not set: give a cache URL or a git+ URL"; }
        { assertion = lib.hasPrefix "git+" cfg.from || cfg.trustedPublicKeys != [ ];
          message = "services.flakectl.pull.trustedPublicKeys is empty: a pointer from the cache ${cfg.from} is only trusted when signed by one of them"; }
        { assertion = lib.hasPrefix "git+" cfg.from || cfg.allowedSigners == [ ];
          message = "services.flakectl.pull.allowedSigners is for a Git source; the cache ${cfg.from} is trusted through trustedPublicKeys"; }
        { assertion = !host.isDarwin || spanMatch != null;
          message = "services.flakectl.pull.interval `${cfg.interval}' is not a span launchd can use (N, Ns, Nmin, Nh, Nd)"; }
      ];
    }
    (mkIf (!host.isDarwin) {
      systemd.services.flakectl-pull = {
        description = "flakectl pull from ${cfg.from}";
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        script = command;
        serviceConfig.Type = "oneshot";
        # the activation it runs must not restart it midway
        restartIfChanged = false;
      };
      systemd.timers.flakectl-pull = {
        description = "flakectl pull every ${cfg.interval}";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnActiveSec = cfg.interval;
          OnUnitActiveSec = cfg.interval;
          RandomizedDelaySec = cfg.randomizedDelay;
          Unit = "flakectl-pull.service";
        };
      };
    })
    (mkIf host.isDarwin {
      launchd.daemons.flakectl-pull = {
        script = command;
        serviceConfig = {
          Label = "org.flakectl.pull";
          StartInterval = if spanMatch == null then 900 else intervalSeconds;
          RunAtLoad = false;
          EnvironmentVariables.PATH = "/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin:/sbin";
          StandardOutPath = "/var/log/flakectl-pull.log";
          StandardErrorPath = "/var/log/flakectl-pull.log";
        };
      };
    })
  ]);
}
