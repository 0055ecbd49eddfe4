let g = x: g (x + 1); in g 0
