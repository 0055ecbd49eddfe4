(import ./fixtures/bad-runtime.nix).nope
