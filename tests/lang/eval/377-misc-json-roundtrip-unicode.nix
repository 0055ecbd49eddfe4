builtins.fromJSON (builtins.toJSON "é ✓ \n \"")
