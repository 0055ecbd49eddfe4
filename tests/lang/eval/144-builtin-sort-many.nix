builtins.sort builtins.lessThan [ 5 3 9 1 7 2 8 6 4 0 15 13 11 14 12 10 ]
