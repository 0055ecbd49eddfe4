let f = { a ? 1 }: a; in f { x = 1; }
