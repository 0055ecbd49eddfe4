# filter, partition, any, all and sort give back a call's memory when its answer is a Boolean
# and nothing older was made to point into it; here the calls force list elements to strings
# and sets, intern new names and catch errors, and everything is read again afterwards.
let
  xs = builtins.genList (i: { n = i; s = "e${toString i}"; }) 40;
  strs = builtins.genList (i: "s${toString (i * 37 - i / 7 * 7 * 37)}") 40;
  kept = builtins.filter (x: builtins.stringLength x.s > 2 && (builtins.tryEval (if x.n == 5 then throw "t" else true)).success) xs;
  parts = builtins.partition (s: builtins.hasAttr "new${s}" { "new${s}" = 1; } && builtins.stringLength s < 4) strs;
  anyBig = builtins.any (x: builtins.length (builtins.attrNames { ${x.s} = 1; y = 2; }) > 2) xs;
  allSmall = builtins.all (s: builtins.substring 0 1 s == "s") strs;
  sorted = builtins.sort (a: b: builtins.stringLength a.s < builtins.stringLength b.s || (builtins.stringLength a.s == builtins.stringLength b.s && a.s > b.s)) xs;
  sortedStrs = builtins.sort (a: b: a < b) strs;
in [ (map (x: x.s) kept) parts anyBig allSmall (map (x: x.n) sorted) sortedStrs (builtins.elemAt xs 17).s ]
