# Shared by every machine: the admin user, base packages, shell environment, home setup.
{ config, lib, host, ... }:
{
  imports = [ ./packages.nix ./users.nix ];

  environment.variables = {
    EDITOR = lib.mkDefault "vi";
    PAGER = "less -R";
  };
  environment.shellAliases = {
    ll = "ls -l";
    la = "ls -la";
  };

  environment.etc."motd".text = ''
    ${config.networking.hostName} (${host.platform}, ${host.system})
    managed by flakectl: local changes to /etc are overwritten on the next switch
  '';

  home-manager.users.alice = {
    imports = [ ../../home/common.nix ../../home/shell.nix ../../home/git.nix ];
  };

  assertions = [
    {
      assertion = config.users.users ? alice;
      message = "every machine needs the admin account 'alice'";
    }
  ];
}
