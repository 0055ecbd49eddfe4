let f = x: if x > 1 then x else abort "bad input"; in f 0
