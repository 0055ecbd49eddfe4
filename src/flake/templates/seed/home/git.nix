# Git, configured the same everywhere.
{ config, lib, ... }:
{
  programs.git = {
    enable = true;
    userName = "@USER@";
    extraConfig = {
      init.defaultBranch = "main";
      pull.rebase = true;
    };
    ignores = [ "result" "*.swp" ];
  };
}
