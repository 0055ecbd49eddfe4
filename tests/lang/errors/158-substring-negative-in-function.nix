let sub = s: builtins.substring (0 - 2) 1 s; in sub "abc"
