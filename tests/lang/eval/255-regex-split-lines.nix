builtins.filter builtins.isString (builtins.split "\n" "line one\nline two\n\nlast")
