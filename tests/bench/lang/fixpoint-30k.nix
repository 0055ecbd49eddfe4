# A fixpoint over a self-referencing set of 30000 attributes, each defined from earlier ones
# through the fixed point itself.
let
  fix = f: let x = f x; in x;
  n = 30000;
  s = fix (self: builtins.listToAttrs (builtins.genList (i: {
    name = "v${toString i}";
    value = if i == 0 then 1 else
      let sum = self."v${toString (i - 1)}" + self."v${toString (i / 2)}" + i; in sum - sum / 1000003 * 1000003;
  }) n) // { total = builtins.foldl' (a: i: a + self."v${toString i}") 0 (builtins.genList (i: i) n); });
in s.total
