let qkc = 1; y = "q"; in assert ({ qkb = 1; inherit qkc; qka = 2; ${"x"} = 3; ${y} = 4; } == null); 1
