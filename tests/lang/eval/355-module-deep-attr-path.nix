let
  getAttrFromPath = path: set: builtins.foldl' (s: n: s.${n}) set path;
  setAttrByPath = path: v: if path == [ ] then v else { ${builtins.head path} = setAttrByPath (builtins.tail path) v; };
in [ (getAttrFromPath [ "a" "b" ] { a.b = 5; }) (setAttrByPath [ "x" "y" "z" ] 1) ]
