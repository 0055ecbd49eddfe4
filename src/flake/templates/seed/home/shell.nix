# The shell, with a PATH that depends on the platform.
{ config, lib, host, ... }:
let
  platformPath =
    if host.isDarwin then [ "/opt/homebrew/bin" ]
    else [ "/run/flakectl/current/sw/bin" ];
in
{
  home.sessionPath = [ "${config.home.homeDirectory}/.local/bin" ] ++ platformPath;
  home.shellAliases.gs = "git status";

  programs.bash = {
    enable = !host.isDarwin;
    initExtra = ''
      export PATH="${lib.concatStringsSep ":" config.home.sessionPath}:$PATH"
    '';
  };
  programs.zsh = {
    enable = host.isDarwin;
    initExtra = ''
      export PATH="${lib.concatStringsSep ":" config.home.sessionPath}:$PATH"
    '';
  };
}
