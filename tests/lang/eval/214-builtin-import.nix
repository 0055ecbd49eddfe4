(import ./fixtures/lib.nix).double 21
