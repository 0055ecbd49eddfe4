# Where Nix 2.8 places the attributes builtins make: mapAttrs' have no position, listToAttrs'
# sit at the element's `value`, // keeps each side's.
let
  m = builtins.mapAttrs (n: v: v + 1) { a = 1; };
  l = builtins.listToAttrs [ { name = "b";
    value = 2; } ];
  u = { c = 3; } // l;
  at = p: if p == null then null else [ p.line p.column ];
in map at [
  (builtins.unsafeGetAttrPos "a" m)
  (builtins.unsafeGetAttrPos "b" l)
  (builtins.unsafeGetAttrPos "b" u)
  (builtins.unsafeGetAttrPos "c" u)
]
