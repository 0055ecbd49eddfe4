let a = import ./fixtures/lib.nix; in [ a (import ./fixtures/lib.nix) { inherit a; } ]
