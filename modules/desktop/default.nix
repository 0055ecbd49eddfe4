# Desktop role: developer tools and user applications for the machines people sit at.
{ config, lib, pkgs, host, ... }:
let
  devenv = pkgs.writeShellScriptBin "devenv" ''
    echo "editor: $EDITOR"
    command -v git >/dev/null && git --version
  '';
in
{
  # EDITOR names nvim, so the role installs it.
  environment.systemPackages = [ devenv pkgs.neovim ];
  environment.variables.EDITOR = "nvim";

  home-manager.users.alice = {
    home.sessionVariables.BROWSER = if host.isDarwin then "open" else "wslview";
    programs.git.extraConfig.core.editor = "nvim";
    home.file.".config/nvim/init.lua".text = ''
      vim.opt.number = true
      vim.opt.expandtab = true
      vim.opt.shiftwidth = 2
    '';
    # Editors rewrite their own settings: keep a writable copy.
    home.file.".config/Code/User/settings.json" = {
      text = builtins.toJSON { "editor.fontSize" = 13; "files.trimTrailingWhitespace" = true; };
      copy = true;
    };
  };
}
