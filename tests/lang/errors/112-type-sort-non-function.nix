builtins.sort "x" [ 2 1 ]
