let n = 5; in n.a
