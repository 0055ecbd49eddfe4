builtins.seq (throw "first arg") 1
