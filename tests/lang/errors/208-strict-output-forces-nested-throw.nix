let f = x: { inner = [ x ]; }; in f (throw "forced by printing")
