with builtins; [ (match "a{0}" "") (match "a{0,1}b" "b") (match "(ab){2}" "abab") (match "x{3}" "xx") ]
