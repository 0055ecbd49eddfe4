# Shared by every machine: the admin account, base packages, the shell environment.
{ config, lib, host, ... }:
{
  imports = [ ./packages.nix ./users.nix ];

  environment.variables = {
    EDITOR = lib.mkDefault "vi";
    PAGER = "less -R";
  };
  environment.shellAliases.ll = "ls -l";

  environment.etc."motd".text = ''
    ${config.networking.hostName} (${host.platform}, ${host.system})
    managed by flakectl: local changes to /etc are overwritten on the next switch
  '';

  # Dotfiles of the admin account, the same on every machine (home/).
  home-manager.users.@USER@.imports = [ ../../home/common.nix ../../home/shell.nix ../../home/git.nix ];

  assertions = [
    {
      assertion = config.users.users ? @USER@;
      message = "every machine needs the admin account '@USER@'";
    }
  ];
}
