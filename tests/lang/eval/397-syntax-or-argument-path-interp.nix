let or = 1; f = x: x + 1; in [ (f or) (/a//b${"c"}) (let a.${"b"} = 1; in a) ]
