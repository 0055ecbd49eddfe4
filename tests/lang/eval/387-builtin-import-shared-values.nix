let a = import ./fixtures/lib.nix; in [ (a.double 2) a.name ((import ./fixtures/lib.nix).double 5) ]
