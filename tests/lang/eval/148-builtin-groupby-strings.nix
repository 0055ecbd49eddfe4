builtins.groupBy builtins.typeOf [ 1 "a" 2 true "b" ]
