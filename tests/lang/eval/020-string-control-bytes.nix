builtins.fromJSON "\"\\u0001\\u0007\\u001b\\u007f\\b\\f\""
