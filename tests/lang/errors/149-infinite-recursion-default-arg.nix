let f = { a ? b, b ? a }: a; in f { }
