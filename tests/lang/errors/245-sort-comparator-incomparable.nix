builtins.sort (a: b: a < b) [ 3 "x" 1 ]
