# Files in the admin's home on every machine.
{ config, lib, host, ... }:
{
  home.sessionVariables.LESS = "-R";
  home.file.".editorconfig".text = ''
    root = true

    [*]
    indent_style = space
    indent_size = 2
    insert_final_newline = true
  '';
}
