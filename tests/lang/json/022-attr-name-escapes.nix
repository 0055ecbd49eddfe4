builtins.listToAttrs [ { name = "q\""; value = 1; } { name = "n\n"; value = 2; } { name = "é"; value = 3; } ]
