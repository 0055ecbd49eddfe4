with builtins; [ (match "a{2}" "aa") (match "a{2,}" "aaaa") (match "a{1,2}" "aaa") (match "(ab)+" "ababab") (match "a?b*" "bbb") (match "(a|b)*c" "abbac") ]
