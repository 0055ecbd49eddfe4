{ f = x: x; g = builtins.head; h = builtins.elemAt [ 1 ]; }
