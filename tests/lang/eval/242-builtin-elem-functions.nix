builtins.elem (x: x) [ ]
