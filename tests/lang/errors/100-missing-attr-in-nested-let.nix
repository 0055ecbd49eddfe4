let
  cfg = {
    a = { b = 1; };
  };
  v = cfg.a.c;
in v + 1
