builtins.readDir ./fixtures/tree
