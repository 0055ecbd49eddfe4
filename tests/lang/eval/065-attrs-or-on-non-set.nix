let n = 5; in [ (n.a or 1) ("s".x or 2) ]
