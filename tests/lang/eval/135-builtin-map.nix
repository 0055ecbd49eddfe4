[ (map (x: x + 1) [ 1 2 3 ]) (map toString [ ]) (builtins.map (x: [ x ]) [ 1 ]) ]
