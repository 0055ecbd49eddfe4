let
  modules = [
    { services.a.enable = true; users = [ "ann" ]; }
    { services.b.enable = false; users = [ "bob" ]; }
    { services.a.port = 80; }
  ];
  merge = a: b: builtins.zipAttrsWith (n: vs:
    if builtins.all builtins.isList vs then builtins.concatLists vs
    else if builtins.all builtins.isAttrs vs then builtins.foldl' merge { } vs
    else builtins.head vs) [ a b ];
in builtins.foldl' merge { } modules
