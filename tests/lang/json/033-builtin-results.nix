with builtins; { sorted = sort lessThan [ 3 1 2 ]; parts = split "," "a,b"; m = match "(a)(b)?" "a"; }
