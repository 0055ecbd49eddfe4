with builtins; [ (concatLists [ [ 1 ] [ ] [ 2 3 ] ]) (concatLists [ ]) ]
