with { a = 1; b = 1; }; with { a = 2; }; [ a b ]
