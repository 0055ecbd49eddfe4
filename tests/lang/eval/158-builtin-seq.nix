with builtins; [ (seq 1 2) (seq { a = throw "lazy"; } 3) (seq [ (throw "lazy") ] 4) ]
