# One selection or one pattern applied to sets of many shapes: the name sits at a different
# index in each (flakectl remembers where it found it last), or is missing.
let
  sets = [
    { x = 1; }
    { a = 0; x = 2; }
    { x = 3; z = 1; }
    { a = 1; b = 2; c = 3; x = 4; y = 5; }
    { y = 6; }
    { }
    (builtins.listToAttrs (builtins.genList (i: { name = "n${toString i}"; value = i; }) 50) // { x = 7; })
  ];
  get = s: s.x or "none";
  has = s: s ? x;
  deep = [ { a.b.c = 1; } { a = { x = 0; b = { c = 2; d = 3; }; }; } { a.b = { }; } ];
  f = { a, c ? a + 10, x ? 0, ... }: [ a c x ];
  g = { b, d }: b + d;
in [
  (map get sets)
  (map has sets)
  (map (s: s.a.b.c or null) deep)
  (map (s: s ? a.b.c) deep)
  (map f [ { a = 1; } { a = 2; c = 3; } { x = 5; a = 4; zz = 1; } { a = 6; b = 7; c = 8; d = 9; x = 10; } ])
  (map g [ { b = 1; d = 2; } { d = 3; b = 4; } ])
  (with { x = 1; y = 2; }; with { a = 3; x = 4; }; [ x y a ])
  (map (s: with s; x) [ { x = 1; } { a = 2; x = 3; } ])
]
