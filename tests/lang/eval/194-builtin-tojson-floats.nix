builtins.toJSON [ 1.0 0.1 (1.0 / 3) 1.0e6 1.0e-7 123456.789 ]
