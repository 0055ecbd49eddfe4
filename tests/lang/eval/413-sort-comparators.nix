# sort with comparators of every `x: y: x < y` shape (which flakectl answers without the
# call when both values are numbers or both strings) and with others, keeping equal
# elements in their order.
let
  ints = [ 5 3 9 1 3 7 (-2) 0 9 4 ];
  mixed = [ 2.5 1 3 0.5 2 (-1) 1.0 ];
  strs = [ "pkg-10" "pkg-9" "a" "" "pkg-10" "B" "b" "aa" ];
  recs = builtins.genList (i: { k = i - i / 3 * 3; v = i; }) 12;
in [
  (builtins.sort (a: b: a < b) ints)
  (builtins.sort (a: b: a > b) ints)
  (builtins.sort (a: b: b < a) ints)
  (builtins.sort (a: b: b > a) ints)
  (builtins.sort (a: b: a <= b) ints)
  (builtins.sort (a: b: a >= b) ints)
  (builtins.sort (a: b: a < a) ints)
  (builtins.sort (a: b: b < b) ints)
  (builtins.sort (a: b: a < b) mixed)
  (builtins.sort (a: b: a > b) mixed)
  (builtins.sort (a: b: a < b) strs)
  (builtins.sort (a: b: a >= b) strs)
  (builtins.sort builtins.lessThan strs)
  (map (r: r.v) (builtins.sort (a: b: a.k < b.k) recs))
  (map (r: r.v) (builtins.sort (a: b: a.k > b.k) recs))
  (builtins.sort (a: b: a < b) [ [ 2 1 ] [ 1 3 ] [ 1 2 ] ])
  (map baseNameOf (builtins.sort (a: b: a < b) [ ./b ./a ./c ]))
  (let lt = a: b: a < b; in builtins.sort lt [ 3 1 2 ])
  (builtins.sort (a: b: let x = a; in x < b) [ 3 1 2 ])
]
