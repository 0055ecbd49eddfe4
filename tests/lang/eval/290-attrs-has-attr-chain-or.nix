let s = { a = 1; }; in [ (s ? a.b) (s.a.b or "d") ]
