let s = { v = 1; }; in map (x: s) [ 1 2 3 ]
