# Accounts on every machine.
{ lib, host, ... }:
{
  users.users.@USER@ = {
    isNormalUser = true;
    uid = 1000;
    extraGroups = lib.optional host.isLinux "wheel";
    shell = if host.isDarwin then "/bin/zsh" else "/bin/bash";
    # Your SSH public key, for remote deploys as this user:
    # openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAA... @USER@@laptop" ];
  };
}
