with builtins; [ (tryEval 1) (tryEval (throw "x")) (tryEval (assert false; 1)) (tryEval (builtins.throw "y")) (tryEval (if true then throw "z" else 1)) ]
