let s = { a = "str"; }; in s.a.b
