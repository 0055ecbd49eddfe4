with builtins; [ (length [ ]) (length [ 1 2 3 ]) (head [ "a" "b" ]) (tail [ 1 2 3 ]) (tail [ 1 ]) ]
