let s = "hello world"; chars = builtins.genList (i: builtins.substring i 1 s) (builtins.stringLength s); in builtins.mapAttrs (n: v: builtins.length v) (builtins.groupBy (c: c) chars)
