let add3 = a: b: c: a + b + c; p = add3 1; q = p 2; in [ (q 3) (add3 10 20 30) ]
