builtins.sort builtins.lessThan [ "b" "B" "a" "_" "1" "é" "" ]
