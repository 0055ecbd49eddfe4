# Desktop role: tools for the machines people sit at.
{ config, lib, pkgs, host, ... }:
{
  environment.systemPackages = [ pkgs.neovim pkgs.ripgrep ];
  environment.variables.EDITOR = "nvim";

  home-manager.users.@USER@ = {
    home.sessionVariables.BROWSER = if host.isDarwin then "open" else "wslview";
    home.file.".config/nvim/init.lua".text = ''
      vim.opt.number = true
      vim.opt.expandtab = true
    '';
  };
}
