# wsl: Linux inside Windows.
{ config, lib, ... }:
{
  networking.hostName = "wsl";

  wsl = {
    enable = true;
    defaultUser = "alice";
    interop.appendWindowsPath = false;
  };
}
