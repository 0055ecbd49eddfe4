builtins.sort (a: b: a < b) [ (x: x) (y: y) ]
