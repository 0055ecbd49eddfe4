# Arithmetic on integers already forced is computed at once by flakectl, yet each result
# stays a thunk for the printer until something forces it, and forcing it forces what Nix's
# thunk would have forced, no more.
let
  n = 5;
  a = n - 1;
  b = a * 2;
  c = n / 0;
  d = n + (n * 3 - 2) / 2;
  e = a + 0;
  p = builtins.seq n (n * 10);
  q = p + 1;
  r = builtins.seq q q;
in builtins.seq e (builtins.seq r {
  inherit n a b c d e p q r;
  f = (k: { v = k; w = k + 1; }) n;
  g = -n;
  h = [ (n - 1) a b ];
  i = let k = n * 2; m = k + 1; in builtins.seq m { inherit k m; l = k - 1; };
})
