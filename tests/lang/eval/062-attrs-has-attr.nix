let s = { a = { b = 1; }; "x y" = 2; }; in [ (s ? a) (s ? b) (s ? a.b) (s ? a.c) (s ? "x y") (s ? ${"a"}) (1 ? a) ]
