let f = { }@qkb: f.qka; g = { qkb = throw "qkb forced first"; qka = throw "qka forced first"; }; in g
