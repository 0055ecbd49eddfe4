let y = 7; f = { x ? y }: x; in f { }
