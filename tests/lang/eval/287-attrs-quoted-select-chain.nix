let s = { "a b" = { "c d" = 1; }; }; in s."a b"."c d"
