builtins.tryEval (abort "not caught")
