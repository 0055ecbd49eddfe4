let
  parts = builtins.genList (i: "item-${toString i}-${toString (i * 2)}") 20000;
  joined = builtins.concatStringsSep "," parts;
  built = builtins.foldl' (acc: x: acc + x) "" (builtins.genList (i: toString i) 3000);
in builtins.stringLength joined + builtins.stringLength built
