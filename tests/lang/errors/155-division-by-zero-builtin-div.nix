builtins.div 7 0
