builtins.foldl' (acc: n: acc // { ${n} = builtins.stringLength n; }) { } [ "one" "three" "five" ]
