let a = 1; in rec { b = a; a = 2; c = let a = 3; in a; }
