builtins.foldl' (acc: x: acc + x * 2) 0 (builtins.genList (i: i) 100000)
