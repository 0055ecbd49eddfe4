builtins.toJSON { a = { outPath = "/x"; }; b = { __toString = s: "str"; c = 1; }; }
