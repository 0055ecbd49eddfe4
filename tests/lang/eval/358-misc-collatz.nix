let steps = n: if n == 1 then 0 else 1 + steps (if builtins.bitAnd n 1 == 0 then n / 2 else 3 * n + 1); in map steps [ 1 7 27 ]
