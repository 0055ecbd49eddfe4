let a = 1; in with { b = 2; }; [ a b true null ]
