# Alice's files on every machine.
{ config, lib, host, ... }:
{
  home.sessionVariables = {
    LESS = "-R";
    XDG_CONFIG_HOME = "${config.home.homeDirectory}/.config";
  };
  home.file.".editorconfig".text = ''
    root = true

    [*]
    indent_style = space
    indent_size = 2
    insert_final_newline = true
  '';
  home.file.".local/bin/hello" = {
    text = ''
      #!/bin/sh
      echo "hello from ${host.name}"
    '';
    executable = true;
  };
}
