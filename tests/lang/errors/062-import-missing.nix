let x = 1; in
  import ./fixtures/does-not-exist.nix
