{ qka, qkb, qkb, qka }: 1
