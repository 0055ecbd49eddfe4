let
  recursiveMerge = a: b: a // builtins.mapAttrs (n: v: if builtins.isAttrs v && a ? ${n} && builtins.isAttrs a.${n} then recursiveMerge a.${n} v else v) b;
  mods = builtins.genList (i: { services."svc${toString (builtins.bitAnd i 31)}" = { enable = true; port = i; }; users."u${toString i}" = { uid = i; }; networking.hosts = { "h${toString i}" = [ "10.0.0.${toString (builtins.bitAnd i 255)}" ]; }; }) 500;
  merged = builtins.foldl' recursiveMerge { } mods;
in [ (builtins.length (builtins.attrNames merged.users)) merged.services.svc3.port (builtins.length (builtins.attrNames merged.networking.hosts)) ]
