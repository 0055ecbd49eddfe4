# Large size: foldl' over a 3-million-element list built with genList (the fold's
# intermediate values are dead at once: what a collector could reclaim).
builtins.foldl' (acc: x: acc + x * 2 - 1) 0 (builtins.genList (x: x) 3000000)
