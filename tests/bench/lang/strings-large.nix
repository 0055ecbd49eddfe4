# Large size of strings.nix: ten times the lines, the concatenation by repeated + and the
# replaceStrings.
let
  line = i: "line ${toString i}: ${toString (i * i)} is ${if i / 2 * 2 == i then "even" else "odd"}";
  lines = builtins.genList line 200000;
  text = builtins.concatStringsSep "\n" lines;
  acc = builtins.foldl' (s: i: s + "${toString i},") "" (builtins.genList (i: i) 20000);
  replaced = builtins.replaceStrings [ "even" "odd" ] [ "E" "O" ] text;
in [ (builtins.stringLength text) (builtins.hashString "sha256" replaced) (builtins.stringLength acc) ]
