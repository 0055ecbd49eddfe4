(import ./fixtures/bad-runtime.nix).value
