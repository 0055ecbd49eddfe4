let s = { a = 1; }; k = "zz"; in s.${k}
