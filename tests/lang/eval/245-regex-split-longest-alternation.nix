builtins.split "(b|bc|c)" "abcd"
