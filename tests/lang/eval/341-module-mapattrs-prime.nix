let
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  nameValuePair = name: value: { inherit name value; };
in mapAttrs' (n: v: nameValuePair "x-${n}" (v * 2)) { a = 1; b = 2; }
