builtins.length (builtins.tail [ (throw "a") 2 3 ])
