with builtins; [ (match "abc" "ABC") (match "[A-Z]+" "ABC") (match "[a-z]+" "ABC") ]
