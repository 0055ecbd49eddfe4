with builtins; [ (toString [ 1 2 "a" ]) (toString [ ]) (toString [ [ 1 2 ] [ 3 ] ]) (toString [ null true false ]) (toString [ 1.5 ]) ]
