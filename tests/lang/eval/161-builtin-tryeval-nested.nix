with builtins; (tryEval (tryEval (throw "inner")).value).value
