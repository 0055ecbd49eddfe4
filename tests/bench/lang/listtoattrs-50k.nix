# listToAttrs and attrNames over 50k keys, then a lookup per key.
let
  s = builtins.listToAttrs (builtins.genList (i: { name = "key${toString i}"; value = i; }) 50000);
  names = builtins.attrNames s;
in [ (builtins.length names) (builtins.head names) (builtins.foldl' (acc: n: acc + s.${n}) 0 names) ]
