let a = import ./fixtures/plain.nix; b = import ./fixtures/plain.nix; in [ a b ]
