let f = { a ? throw "no" }: 1; in f { a = 2; }
