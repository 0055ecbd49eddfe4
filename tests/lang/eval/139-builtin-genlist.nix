with builtins; [ (genList (x: x * 2) 5) (genList (x: x) 0) (genList toString 3) ]
