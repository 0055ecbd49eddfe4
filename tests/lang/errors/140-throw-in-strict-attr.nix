{ a = { b = { c = [ 1 (throw "hidden deep") ]; }; }; }
