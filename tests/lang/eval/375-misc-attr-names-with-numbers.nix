builtins.attrNames { a10 = 1; a2 = 1; a1 = 1; "10" = 1; "9" = 1; }
