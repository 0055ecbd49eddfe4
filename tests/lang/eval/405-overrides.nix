# The legacy __overrides attribute of rec sets: its attributes replace the set's own, also
# where other attributes refer to them, or are added; non-rec sets and lets are not affected.
let
  r = rec {
    a = 1;
    b = a + 10;
    c = b;
    __overrides = { a = 5; d = "new"; };
  };
  plain = { a = 1; __overrides = { a = 2; }; };
  l = let __overrides = { x = 2; }; x = 1; in x;
  old = let { a = 1; b = a; __overrides = { a = 3; }; body = b; };
  dyn = rec { a = 1; ${"b"} = a; __overrides = { a = 7; }; };
in
[ r plain l old dyn (builtins.attrNames r) ]
