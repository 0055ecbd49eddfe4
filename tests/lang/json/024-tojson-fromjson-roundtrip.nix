builtins.fromJSON (builtins.toJSON { a = [ 1 2.5 "x" null true ]; b = { }; })
