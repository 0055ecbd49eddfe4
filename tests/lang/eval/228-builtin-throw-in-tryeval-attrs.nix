(builtins.tryEval { a = throw "not forced by tryEval"; }).success
