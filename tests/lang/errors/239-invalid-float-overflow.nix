let x = 1.0e400; in x
