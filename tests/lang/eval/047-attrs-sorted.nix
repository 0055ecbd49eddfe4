{ b = 1; a = { d = [ 1 2 ]; c = null; }; }
