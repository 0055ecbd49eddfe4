# foldl' gives back a step's memory only when nothing older points into it: each step here
# makes an older value point at something it allocated (a list element forced to a string,
# an attribute forced to a set, a new attribute name, a caught error, a nested fold), and the
# values are read again after the fold.
let
  names = builtins.genList (i: "n${toString i}") 50;
  sets = builtins.genList (i: { v = i; s = "x${toString i}"; }) 50;
  lazy = builtins.listToAttrs (map (n: { name = n; value = { of = n; len = builtins.stringLength n; }; }) names);
  total = builtins.foldl' (acc: i:
    acc
    + builtins.stringLength (builtins.elemAt names i)
    + (builtins.elemAt sets i).v
    + lazy."n${toString i}".len
    + builtins.stringLength (builtins.head (builtins.attrNames { "fresh${toString (i * 7)}" = 1; }))
    + (if (builtins.tryEval (if i == 3 then throw "no" else i)).success then 1 else 0)
    + builtins.foldl' (a: j: a + j) 0 (builtins.genList (j: j * i) 5)) 0 (builtins.genList (i: i) 50);
in [ total (builtins.elemAt names 49) (builtins.elemAt sets 7).s lazy.n12.of (builtins.concatStringsSep "," (builtins.genList (i: (builtins.elemAt sets i).s) 4)) ]
