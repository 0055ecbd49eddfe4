[ (builtins ? map) (builtins ? nonexistent) (builtins.isAttrs builtins) ]
