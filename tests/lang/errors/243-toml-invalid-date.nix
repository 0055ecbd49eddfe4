# a date toml11 rejects: no 29th of February in 2021
builtins.fromTOML "x = 1\na = 2021-02-29\n"
