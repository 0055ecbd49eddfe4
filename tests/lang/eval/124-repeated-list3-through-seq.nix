let x = [ 1 2 3 ]; in [ x (builtins.seq 0 x) ]
