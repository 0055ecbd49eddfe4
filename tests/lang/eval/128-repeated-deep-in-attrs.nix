let l = [ "a" "b" "c" ]; in { p = { q = l; }; r = l; }
