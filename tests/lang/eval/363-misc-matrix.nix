let m = builtins.genList (i: builtins.genList (j: i * j) 4) 4; in m
