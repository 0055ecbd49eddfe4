# Built-in options for WSL hosts: /etc/wsl.conf and Windows interop.
{ lib, ... }:
let inherit (lib) mkOption types; in
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
  };
}
