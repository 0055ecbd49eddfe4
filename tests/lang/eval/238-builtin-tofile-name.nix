builtins.baseNameOf (builtins.toFile "greeting.txt" "hello")
