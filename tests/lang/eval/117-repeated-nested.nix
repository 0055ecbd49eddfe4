let x = { a.b = 1; }; in [ x.a x.a.b x ]
