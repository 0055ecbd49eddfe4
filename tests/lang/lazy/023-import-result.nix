import ../eval/fixtures/plain.nix
