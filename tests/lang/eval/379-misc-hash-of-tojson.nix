builtins.hashString "sha256" (builtins.toJSON { b = [ 1 2 ]; a = "x"; })
