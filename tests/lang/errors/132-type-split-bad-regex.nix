builtins.split "[" "abc"
