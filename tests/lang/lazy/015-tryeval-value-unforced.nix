builtins.tryEval { a = throw "not forced"; }
