[ (1 < 2) (builtins.isInt 1) (builtins.elem 3 [ 1 2 ]) ]
