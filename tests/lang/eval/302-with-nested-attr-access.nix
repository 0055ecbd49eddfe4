with { s = { t = 5; }; }; s.t
