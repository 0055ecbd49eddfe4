with builtins; [ (match "a" "a") (match "a" "b") (match "a" "ab") (match ".*" "") (match "(a)(b)" "ab") (match "a(b)?" "a") ]
