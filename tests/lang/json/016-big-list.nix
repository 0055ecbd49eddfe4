builtins.genList (i: i * i) 20
