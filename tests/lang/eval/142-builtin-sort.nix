with builtins; [ (sort (a: b: a < b) [ 3 1 2 ]) (sort (a: b: a > b) [ 3 1 2 ]) (sort (a: b: a < b) [ "b" "a" "c" ]) (sort (a: b: a < b) [ ]) ]
