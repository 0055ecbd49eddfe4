# macbook: a laptop on macOS.
{ config, lib, ... }:
{
  networking.hostName = "macbook";

  system.defaults = {
    "com.apple.dock" = {
      autohide = true;
      tilesize = 48;
    };
    NSGlobalDomain = {
      AppleShowAllExtensions = true;
      KeyRepeat = 2;
    };
  };

  homebrew = {
    enable = true;
    brews = [ "git" "ripgrep" "jq" ];
    casks = [ "firefox" "iterm2" ];
    onActivation.cleanup = "uninstall";
  };

  launchd.agents.flakectl-check = {
    script = "flakectl check --quiet";
    serviceConfig.StartInterval = 86400;
  };
}
