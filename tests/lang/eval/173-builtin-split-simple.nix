with builtins; [ (split "," "a,b,c") (split "," "") (split "," "abc") (split "," ",") ]
