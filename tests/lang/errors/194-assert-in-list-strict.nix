let cond = 1 == 2; in [ 1 (assert cond; 2) ]
