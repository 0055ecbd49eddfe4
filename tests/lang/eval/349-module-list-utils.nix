let
  last = l: builtins.elemAt l (builtins.length l - 1);
  take = n: l: builtins.genList (builtins.elemAt l) (if n > builtins.length l then builtins.length l else n);
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
  flatten = x: if builtins.isList x then builtins.concatMap flatten x else [ x ];
in [ (last [ 1 2 3 ]) (take 2 [ 1 2 3 ]) (unique [ 1 2 1 3 2 ]) (flatten [ 1 [ 2 [ 3 [ ] ] ] 4 ]) ]
