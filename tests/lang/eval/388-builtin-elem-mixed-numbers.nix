with builtins; [ (elem 1.0 [ 1 ]) (elem 1 [ 1.0 ]) (elem "1" [ 1 ]) ]
