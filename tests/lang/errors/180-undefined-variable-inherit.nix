let p = 1; in { inherit p q; }
