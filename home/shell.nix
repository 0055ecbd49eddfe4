# Shell setup whose PATH depends on the platform: Homebrew on macOS, the profile's sw/bin on
# Linux, and the Windows interop directories on WSL.
{ config, lib, host, ... }:
let
  platformPath =
    if host.isDarwin then [ "/opt/homebrew/bin" "/opt/homebrew/sbin" ]
    else if host.isWSL then [ "/run/flakectl/current/sw/bin" "/mnt/c/Windows/System32" "/mnt/c/Windows" ]
    else [ "/run/flakectl/current/sw/bin" ];
in
{
  home.sessionPath = [ "${config.home.homeDirectory}/.local/bin" ] ++ platformPath;
  home.shellAliases = {
    g = "git";
    gs = "git status";
    ".." = "cd ..";
  };

  programs.bash = {
    enable = !host.isDarwin;
    initExtra = ''
      export PATH="${lib.concatStringsSep ":" config.home.sessionPath}:$PATH"
      PS1='\u@\h:\w\$ '
    '';
  };
  programs.zsh = {
    enable = host.isDarwin;
    initExtra = ''
      export PATH="${lib.concatStringsSep ":" config.home.sessionPath}:$PATH"
      PROMPT='%n@%m:%~%# '
    '';
  };
}
