# Built-in options for WSL hosts: /etc/wsl.conf (automount, interop, default user, systemd).
# WSL reads the file only when the distribution starts: activation says when a change needs
# `wsl --shutdown` (src/activate/wsl.c).
{ lib, config, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.wsl;
  # One ini line each: a newline or a bracket would start another key or section.
  plain = v: builtins.match "[^]\n\r[]*" v != null;
in
{
  options.wsl = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to write /etc/wsl.conf.";
    };
    defaultUser = mkOption {
      type = types.str;
      default = "root";
      description = "The user WSL logs in as ([user] default).";
    };
    interop.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether Windows programs can be started from Linux ([interop] enabled).";
    };
    interop.appendWindowsPath = mkOption {
      type = types.bool;
      default = true;
      description = "Whether Windows' PATH is appended to Linux's ([interop] appendWindowsPath).";
    };
    automountRoot = mkOption {
      type = types.str;
      default = "/mnt";
      description = "Where Windows drives are mounted ([automount] root).";
    };
    automountOptions = mkOption {
      type = types.str;
      default = "metadata";
      description = "Mount options of Windows drives ([automount] options), e.g. \"metadata,uid=1000,gid=100,umask=022\".";
    };
    boot.systemd = mkOption {
      type = types.bool;
      default = true;
      description = "Whether WSL boots systemd as PID 1 ([boot] systemd).";
    };
  };
  config.assertions = [
    { assertion = builtins.match "/[^\n\r]*" cfg.automountRoot != null && plain cfg.automountRoot;
      message = "wsl.automountRoot must be an absolute path on one line (got `${cfg.automountRoot}')"; }
    { assertion = plain cfg.automountOptions;
      message = "wsl.automountOptions must be one line of mount options"; }
    { assertion = builtins.match "[a-z_][a-z0-9_-]*" cfg.defaultUser != null;
      message = "wsl.defaultUser `${cfg.defaultUser}' is not a user name"; }
  ];
}
