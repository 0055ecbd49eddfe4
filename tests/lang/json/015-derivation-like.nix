{ type = "derivation"; name = "x"; outPath = "/nix/store/fake"; }
