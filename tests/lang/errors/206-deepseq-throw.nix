builtins.deepSeq [ 1 (throw "deep inside") ] 1
