let f = { qkb ? f.qka }: 1; g = { qkb = throw "qkb forced first"; qka = throw "qka forced first"; }; in g
