let s = { a = 1; }; in with s; rec { a = 2; b = a; }
