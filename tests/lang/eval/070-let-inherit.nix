let s = { x = 1; y = 2; }; inherit (s) x y; z = x + y; in z
