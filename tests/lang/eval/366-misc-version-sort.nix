builtins.sort (a: b: builtins.compareVersions a b < 0) [ "1.10" "1.2" "1.9" "1.2.1" "0.9" "1.2pre" ]
