with builtins; let s = { a = 1; b = { c = 2; }; }; in [ (s.b.c) (getAttr "b" s) (attrNames (removeAttrs s [ "a" ])) ]
