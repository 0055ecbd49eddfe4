with builtins; [ (match "a^b" "ab") (match "(^a)" "a") (match "a$" "a") (split "^" "abc") (split "$" "abc") ]
