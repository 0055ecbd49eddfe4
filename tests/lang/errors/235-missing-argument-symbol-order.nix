({ qkb ? qkc, qka, qkc }: 1) { }
