builtins.fromJSON "[1, -1, 1.5, 1e3, 1E-2, 0, -0, 12345678901234]"
