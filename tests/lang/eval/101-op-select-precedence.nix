let s = { f = x: x + 1; l = [ 1 2 ]; }; in [ (s.f 1) (builtins.head s.l) ]
