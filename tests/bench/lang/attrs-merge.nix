# Builds 20 sets of 5000 attributes (overlapping names) and merges them with //, then looks
# every name up again.
let
  mk = k: builtins.listToAttrs (builtins.genList (i: { name = "a${toString (i * 7 + k * 311)}"; value = i + k; }) 5000);
  sets = builtins.genList mk 20;
  merged = builtins.foldl' (acc: s: acc // s) { } sets;
  names = builtins.attrNames merged;
in [ (builtins.length names) (builtins.foldl' (acc: n: acc + merged.${n}) 0 names) ]
