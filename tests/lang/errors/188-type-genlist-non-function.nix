builtins.genList 1 3
