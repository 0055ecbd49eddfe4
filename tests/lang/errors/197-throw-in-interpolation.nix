"a ${throw "interp"} b"
