# Nix 2.8 reads TOML dates and times, then refuses the whole document
builtins.fromTOML "a = 1\nb = { c = 1979-05-27T07:32:00.5-07:00 }\n"
