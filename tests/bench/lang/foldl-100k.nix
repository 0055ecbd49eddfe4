# foldl' over a 100k-element list built with genList.
builtins.foldl' (acc: x: acc + x * 2 - 1) 0 (builtins.genList (x: x) 100000)
