let
  f = x: x;
in
    abort "multi"
