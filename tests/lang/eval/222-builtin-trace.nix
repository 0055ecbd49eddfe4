builtins.trace "a message to stderr" 42
