with builtins; [ (match "((a)(b))" "ab") (match "(a(b(c)))" "abc") (match "(a)|b" "b") (match "(a*)*" "aa") ]
