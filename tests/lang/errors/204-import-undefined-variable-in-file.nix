(import ./fixtures/bad-function.nix { }).result
