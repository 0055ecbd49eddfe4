let mod = a: b: a - (a / b) * b; in mod 7 0
