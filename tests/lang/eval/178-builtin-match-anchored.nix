with builtins; [ (match "b" "abc") (match ".*b.*" "abc") (match "abc|d" "d") (match "^abc$" "abc") ]
