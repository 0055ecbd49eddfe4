let f = { qka ? qkc, qkb ? qka, qkc ? qkb }: qkb; in f { }
