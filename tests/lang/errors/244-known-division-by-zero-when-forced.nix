let n = 4; zero = n - 4; xs = [ (n / zero) n ]; in builtins.elemAt xs 1 + builtins.head xs
