builtins.fromTOML (builtins.readFile ./fixtures/config.toml)
