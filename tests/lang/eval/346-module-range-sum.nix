let range = a: b: if a > b then [ ] else [ a ] ++ range (a + 1) b; in builtins.foldl' builtins.add 0 (range 1 100)
