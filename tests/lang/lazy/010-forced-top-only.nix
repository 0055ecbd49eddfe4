let s = { x = throw "not forced"; y = 1; }; in s
