import ./fixtures/plain.nix
