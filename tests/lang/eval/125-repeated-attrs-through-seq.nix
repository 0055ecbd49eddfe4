let x = { a = 1; }; in [ x (builtins.seq 0 x) ]
