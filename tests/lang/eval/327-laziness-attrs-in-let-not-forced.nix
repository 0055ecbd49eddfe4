let s = { a = throw "no"; b = 2; }; in s.b
