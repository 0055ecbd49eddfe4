import ./fixtures/broken/bad-syntax.nix
