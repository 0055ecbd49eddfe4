# Accumulators of every kind through foldl': numbers (whose steps are given back), and sets,
# lists, strings and functions that keep the earlier accumulator alive; each is read after.
let
  xs = builtins.genList (i: i) 200;
  ints = builtins.foldl' (a: x: a + x * x) 0 xs;
  floats = builtins.foldl' (a: x: a + x / 2.0) 0.5 xs;
  bools = builtins.foldl' (a: x: a != (x == 100)) false xs;
  nulls = builtins.foldl' (a: x: if x > 1000 then a else null) 1 xs;
  chain = builtins.foldl' (a: x: { prev = a; n = x; }) { n = -1; } (builtins.genList (i: i) 5);
  list = builtins.foldl' (a: x: a ++ [ (x * 3) ]) [ ] (builtins.genList (i: i) 20);
  str = builtins.foldl' (a: x: a + toString x) "" (builtins.genList (i: i) 20);
  fn = builtins.foldl' (f: x: y: f y + x) (y: y) (builtins.genList (i: i) 10);
  mixed = builtins.foldl' (a: x: if x < 5 then a + x else { a = a; }) 0 (builtins.genList (i: i) 8);
  back = builtins.foldl' (a: x: if builtins.isInt a then (if x == 3 then [ a ] else a + x) else a) 0 (builtins.genList (i: i) 6);
in [ ints floats bools nulls chain.prev.prev.n list str (fn 1) mixed back ]
