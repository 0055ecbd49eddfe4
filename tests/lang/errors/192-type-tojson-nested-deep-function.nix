builtins.toJSON { a = { b = [ { c = builtins.head; } ]; }; }
