builtins.toJSON [ 1 (x: x) ]
