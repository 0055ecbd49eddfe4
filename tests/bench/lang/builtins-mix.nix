# Sorting, grouping and regular expressions over 20k generated names.
let
  names = builtins.genList (i: "pkg-${toString (i * 7919 - i / 13 * 13 * 7919 + i)}-1.${toString (i - i / 10 * 10)}") 20000;
  sorted = builtins.sort (a: b: a < b) names;
  parsed = map (builtins.match "pkg-([0-9]+)-([0-9.]+)") sorted;
  groups = builtins.groupBy (p: builtins.elemAt p 1) parsed;
in [ (builtins.head sorted) (builtins.length parsed) (builtins.attrNames groups) ]
