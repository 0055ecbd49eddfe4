(import ./fixtures/dir/other.nix).other.name
