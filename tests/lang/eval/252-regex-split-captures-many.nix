builtins.split "(([a-z])([0-9]))" "a1-b2-c3"
