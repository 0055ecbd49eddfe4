builtins.foldl' (acc: x: acc + x) 0 (builtins.genList (x: 1) 1000)
