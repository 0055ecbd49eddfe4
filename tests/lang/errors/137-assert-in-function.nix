let f = n: assert n > 0; n; in f 0
