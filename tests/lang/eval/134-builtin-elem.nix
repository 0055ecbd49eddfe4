with builtins; [ (elem 2 [ 1 2 3 ]) (elem 5 [ 1 2 3 ]) (elem [ 1 ] [ [ 1 ] ]) (elem { a = 1; } [ { a = 1; } ]) (elem 1 [ ]) ]
