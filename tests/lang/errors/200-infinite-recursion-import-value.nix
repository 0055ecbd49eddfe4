let s = { inherit (s) x; }; in s.x
