with builtins; [ (match "a\\.b" "a.b") (match "a\\.b" "axb") (match "\\(x\\)" "(x)") (match "[.]" ".") (match "\\$" "$") (match "a\\|b" "a|b") ]
