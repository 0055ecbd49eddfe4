let f = { a ? nothere }: a; in f { }
