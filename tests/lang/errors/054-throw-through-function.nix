let check = n: if n < 0 then throw "negative" else n; in map check [ 1 (-1) ]
