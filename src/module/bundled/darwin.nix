# Built-in options for macOS hosts: defaults, Homebrew and launchd.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  launchdJob = types.submodule ({ name, ... }: {
    options = {
      script = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands the job runs (ProgramArguments = sh -c script).";
      };
      serviceConfig = mkOption {
        type = types.attrsOf types.anything;
        default = { };
        description = "Further plist keys (Label defaults to org.flakectl.<name>).";
      };
    };
  });
in
{
  options = {
    system.defaults = mkOption {
      type = types.attrsOf (types.attrsOf (types.oneOf [ types.bool types.int types.str types.float ]));
      default = { };
      description = "`defaults write DOMAIN KEY VALUE` settings, by domain.";
    };
    homebrew = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to write a Brewfile and run `brew bundle` at activation.";
      };
      brews = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Formulae.";
      };
      casks = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Casks.";
      };
      masApps = mkOption {
        type = types.attrsOf types.int;
        default = { };
        description = "Mac App Store apps by name → id.";
      };
      onActivation.cleanup = mkOption {
        type = types.enum [ "none" "uninstall" "zap" ];
        default = "none";
        description = "What `brew bundle` does with packages not in the Brewfile.";
      };
    };
    launchd = {
      daemons = mkOption {
        type = types.attrsOf launchdJob;
        default = { };
        description = "System launchd daemons (/Library/LaunchDaemons).";
      };
      agents = mkOption {
        type = types.attrsOf launchdJob;
        default = { };
        description = "Per-user launchd agents (/Library/LaunchAgents).";
      };
    };
  };
}
