# foldl' moves a set or list accumulator's block past the step's memory when every value in
# it is older than the step; here the steps also keep the previous accumulator (self = acc,
# acc ++ [ acc ]), add fresh thunks and computed values, and grow names, and all is read after.
let
  xs = builtins.genList (i: i) 60;
  grown = builtins.foldl' (acc: i: acc // { "k${toString i}" = i; }) { } xs;
  selfish = builtins.foldl' (acc: i: acc // { "k${toString i}" = i; self = acc; }) { } (builtins.genList (i: i) 6);
  computed = builtins.foldl' (acc: i: acc // { "c${toString i}" = i * i; last = "l${toString i}"; }) { } (builtins.genList (i: i) 8);
  appended = builtins.foldl' (acc: x: acc ++ [ x ]) [ ] xs;
  nested = builtins.foldl' (acc: x: if x == 3 then acc ++ [ acc ] else acc ++ [ x ]) [ ] (builtins.genList (i: i) 6);
  fresh = builtins.foldl' (acc: x: acc ++ [ (x + 100) ]) [ ] (builtins.genList (i: i) 5);
  shrink = builtins.foldl' (acc: x: builtins.removeAttrs acc [ "k${toString x}" ]) grown (builtins.genList (i: i * 2) 30);
  same = builtins.foldl' (acc: x: acc) { a = 1; } xs;
in [
  (builtins.length (builtins.attrNames grown)) grown.k59 (builtins.foldl' (a: n: a + grown.${n}) 0 (builtins.attrNames grown))
  (builtins.attrNames selfish) selfish.self.self.k3 (builtins.attrNames selfish.self.self.self)
  computed
  (builtins.length appended) (builtins.elemAt appended 59) nested fresh
  (builtins.attrNames shrink) same
]
