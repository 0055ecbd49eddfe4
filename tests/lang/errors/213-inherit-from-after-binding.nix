let s = { };
in {

  a = 1; inherit (s) q; }