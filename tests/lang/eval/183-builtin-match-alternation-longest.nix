with builtins; [ (match "(a|ab)(c|bcd)" "abcd") (match "(a+)(a*)" "aaa") (match "(.*)-(.*)" "a-b-c") ]
