let x = 1; in { a = x; g = builtins.add; h = x: x; i = [ x ]; j = import; k = let y = 2; in y; }
