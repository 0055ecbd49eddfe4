let
  hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
  removePrefix = p: s: if hasPrefix p s then builtins.substring (builtins.stringLength p) (-1) s else s;
  toUpper = builtins.replaceStrings [ "a" "b" "c" ] [ "A" "B" "C" ];
in [ (hasPrefix "ab" "abc") (hasPrefix "x" "abc") (removePrefix "ab" "abc") (toUpper "abcabc") ]
