# builtins.toXML as Nix 2.8 writes it: every kind of value, escapes (only \n of the control
# characters), sorted attributes and formals, derivations shown once, primops unevaluated.
let
  d = derivation { name = "d"; system = "s"; builder = "/b"; };
in
builtins.toXML {
  a = [ 1 (-7) 2.5 1.0e20 0.1 (1.0 / 3) true false null "x\"<>&'\n\t\ry" /a/b/../c "" ];
  f = { a, b ? 1, ... }@z: 1;
  g = { zeta, alpha }: 2;
  h = x: x;
  p = builtins.add;
  q = builtins.add 1;
  dd = [ d d { inner = d; } ];
  s = { type = "derivation"; drvPath = 1; };
  e = { type = "derivation"; drvPath = ""; outPath = "/x"; };
  n = { "with space" = { }; "" = [ ]; };
  lazy = let x = { y = 1 + 1; }; in x;
}
