let x = 1; in builtins.throw "via builtins"
