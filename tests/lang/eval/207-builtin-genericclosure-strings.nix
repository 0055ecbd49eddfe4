builtins.genericClosure { startSet = [ { key = "a"; deps = [ "b" "c" ]; } ]; operator = x: map (d: { key = d; deps = if d == "b" then [ "c" "d" ] else [ ]; }) x.deps; }
