# Sets built from thousands of names interned in scrambled order (listToAttrs, where the
# first of duplicate names wins; zipAttrsWith; groupBy), so their symbols need several
# passes of flakectl's radix sort.
let
  n = 3000;
  key = i: "k${toString ((i * 7919) - (i * 7919) / n * n)}";
  pairs = builtins.genList (i: { name = key i; value = i; }) n;
  dups = builtins.genList (i: { name = key (i / 2); value = -i; }) n;
  s = builtins.listToAttrs (pairs ++ dups);
  z = builtins.zipAttrsWith (name: vs: vs) [
    (builtins.listToAttrs (builtins.genList (i: { name = key (i * 3); value = i; }) 700))
    (builtins.listToAttrs (builtins.genList (i: { name = key (i * 5); value = i; }) 500))
    { }
    (builtins.listToAttrs (builtins.genList (i: { name = key (n - 1 - i); value = i; }) 40))
  ];
  g = builtins.groupBy (x: key (x - x / 37 * 37)) (builtins.genList (i: i) 400);
  names = builtins.attrNames s;
in [
  (builtins.length names)
  (builtins.head names)
  (builtins.elemAt names 1234)
  (builtins.foldl' (a: k: a + s.${k}) 0 names)
  s.k0 s.k1 s.k2999
  (builtins.length (builtins.attrNames z))
  (builtins.filter (k: builtins.length z.${k} > 1) (builtins.attrNames z))
  z.k0
  (builtins.attrNames g)
  g.${key 5}
]
