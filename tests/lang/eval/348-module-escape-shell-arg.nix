let escapeShellArg = a: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] a}'"; in map escapeShellArg [ "simple" "it's" "" ]
