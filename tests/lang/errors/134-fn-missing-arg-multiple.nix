let f = { a, b, c ? 1 }: a; in f { b = 1; }
