# Alice's git configuration.
{ config, lib, ... }:
{
  programs.git = {
    enable = true;
    userName = "Alice Admin";
    userEmail = "alice@example.org";
    aliases = {
      co = "checkout";
      st = "status -sb";
      lg = "log --graph --oneline --decorate";
    };
    extraConfig = {
      init.defaultBranch = "main";
      pull.rebase = true;
    };
    ignores = [ ".direnv/" "result" "*.swp" ];
  };
}
