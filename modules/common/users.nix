# Accounts on every machine.
{ lib, host, ... }:
{
  users.groups.admins = { gid = 1500; };
  users.users.alice = {
    isNormalUser = true;
    uid = 1000;
    description = "Alice Admin";
    extraGroups = [ "admins" ] ++ lib.optional host.isLinux "wheel";
    shell = if host.isDarwin then "/bin/zsh" else "/bin/bash";
    openssh.authorizedKeys.keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExBp2QMQ3+x4S0ydWhpoXYLcHeuJ4wIUbO2H4mH0c/V alice@example"
    ];
  };
}
