let a = 1; b = "s"; c = [ 1 ]; d = { }; in { inherit a b c d; }
