# Steps of foldl' (which give their memory back when they leave nothing behind) in which an
# error is caught inside a nested step (a filter predicate that throws), after which the step
# forces values made before the fold: their new values live in the step's memory, which must
# therefore be kept.
let
  olds = builtins.genList (i: { v = i; w = "x${toString i}"; }) 60;
  lists = builtins.genList (i: builtins.genList (j: i * j) 5) 60;
  r = builtins.foldl' (acc: i:
    let
      t = builtins.tryEval (builtins.filter (x: if x > 2 then throw "no" else true) [ 1 2 3 ]);
      u = builtins.tryEval (builtins.all (x: assert x < 3; true) [ 1 5 ]);
      o = builtins.elemAt olds i;
      l = builtins.elemAt lists i;
    in builtins.seq t (builtins.seq u (builtins.seq o.w (builtins.seq l (acc + 1))))) 0 (builtins.genList (i: i) 60);
  junk = builtins.foldl' (acc: i: acc + builtins.length (builtins.genList (j: "${toString j}") 50)) 0 (builtins.genList (i: i) 200);
in [ r junk (map (o: o.w) olds) (map (l: builtins.elemAt l 4) lists) ]
