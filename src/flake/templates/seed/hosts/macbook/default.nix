# macbook: a laptop on macOS (system defaults, Homebrew, launchd).
{ config, lib, ... }:
{
  networking.hostName = "macbook";

  system.defaults = {
    "com.apple.dock".autohide = true;
    NSGlobalDomain.AppleShowAllExtensions = true;
  };

  homebrew = {
    enable = true;
    brews = [ "ripgrep" "jq" ];
    casks = [ "firefox" ];
  };
}
