let
  mk = n: builtins.listToAttrs (builtins.genList (i: { name = "k${toString (i + n)}"; value = i; }) 2000);
  sets = builtins.genList (i: mk (i * 1000)) 50;
  merged = builtins.foldl' (a: b: a // b) { } sets;
in builtins.length (builtins.attrNames merged)
