builtins.getAttr "q" { p = 1; }
