let
  a = 1;
  b = [
    a
    missing
  ];
in b
