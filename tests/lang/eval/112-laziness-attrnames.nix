builtins.attrNames { b = throw "no"; a = abort "no"; }
