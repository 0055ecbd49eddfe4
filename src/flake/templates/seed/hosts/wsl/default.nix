# wsl: Linux inside Windows.
{ config, lib, ... }:
{
  networking.hostName = "wsl";

  wsl = {
    enable = true;
    defaultUser = "@USER@";
    interop.appendWindowsPath = false;
  };
}
