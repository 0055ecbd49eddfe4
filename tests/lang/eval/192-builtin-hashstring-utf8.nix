[ (builtins.hashString "sha256" "ünïcode ✓") (builtins.hashString "md5" "a\nb") ]
