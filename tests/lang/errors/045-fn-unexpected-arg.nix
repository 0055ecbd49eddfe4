let f = { a }: a; in f { a = 1; c = 2; }
