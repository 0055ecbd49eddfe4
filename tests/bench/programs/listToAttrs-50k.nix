let
  s = builtins.listToAttrs (builtins.genList (i: { name = "key${toString i}"; value = i; }) 50000);
in builtins.length (builtins.attrNames s) + builtins.foldl' (a: b: a + b) 0 (builtins.attrValues s)
