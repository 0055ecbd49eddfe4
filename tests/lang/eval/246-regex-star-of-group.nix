with builtins; [ (match "(a*)+" "aa") (match "(a|b)*" "abab") (match "(ab|a)(bc|c)?" "abc") ]
