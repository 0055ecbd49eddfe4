# Nix 2.8 names a curried function's inner lambdas after it: the missing argument's message
# names 'f' though it is the second lambda that is called.
let
  f = a: { b }: a + b;
in
f 1 { }
