with builtins; [ (lessThan [ 1 2 ] [ 1 3 ]) (lessThan [ ] [ 1 ]) (lessThan [ "a" ] [ "a" ]) ]
