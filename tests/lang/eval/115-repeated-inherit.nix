let x = { a = 1; }; y = x; in { inherit x y; }
