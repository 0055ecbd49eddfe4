let
  digits = "0123456789abcdef";
  toHex = n: if n < 16 then builtins.substring n 1 digits else toHex (n / 16) + builtins.substring (n - (n / 16) * 16) 1 digits;
in map toHex [ 0 15 16 255 4096 65535 ]
