let
  optionalAttrs = cond: as: if cond then as else { };
  optional = cond: x: if cond then [ x ] else [ ];
in [ (optionalAttrs true { a = 1; }) (optionalAttrs false { a = 1; }) (optional true 1 ++ optional false 2) ]
