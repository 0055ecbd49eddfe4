let f = x: x * 2; in { a = f 2; b = map f [ 1 2 ]; c = "${toString (f 5)}"; }
