with builtins; let xs = [ { n = "a"; } { n = "b"; } { m = 1; } ]; in [ (catAttrs "n" xs) (elem "b" (catAttrs "n" xs)) ]
