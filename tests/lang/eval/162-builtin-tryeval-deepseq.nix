with builtins; [ (tryEval (deepSeq [ (throw "deep") ] 1)) (tryEval (seq [ (throw "deep") ] 1)) ]
