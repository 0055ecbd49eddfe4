builtins.toFile "greeting.txt" "hello"
