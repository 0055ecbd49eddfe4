# Integer arithmetic computed at once when its operands are known: wrapping, division
# towards zero, a division by zero that is never forced, and the values a let shares.
let
  big = 9223372036854775807;
  small = -9223372036854775807 - 1;
  n = 7;
  m = -n;
  f = k: [ (k - 1) (k * k) (k / 2) (k / (0 - 2)) (k + 1) ];
  lazyDiv = n / 0;
  fib = k: if k < 2 then k else fib (k - 1) + fib (k - 2);
in [
  (f n) (f m) (f big) (f small)
  (big + 1) (small - 1) (big * 2)
  (builtins.length [ lazyDiv (n / (n - 7)) ])
  (fib 15)
  (let x = n * 3; y = x + x; in [ x y (x == 21) (y < 43) ])
]
