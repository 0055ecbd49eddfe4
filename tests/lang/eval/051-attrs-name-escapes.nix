builtins.listToAttrs [ { name = "a\"q"; value = 1; } { name = "x\ty"; value = 2; } { name = "b\\c"; value = 3; } { name = "$"; value = 4; } { name = "\r"; value = 5; } ]
