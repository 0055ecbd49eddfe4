builtins.toJSON { a = (throw "json throw"); }
