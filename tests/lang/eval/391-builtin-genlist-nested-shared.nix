let row = builtins.genList (i: i) 3; in builtins.genList (i: row) 2
