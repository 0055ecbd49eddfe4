with builtins; [ (match "a.b" "a\nb") (match "(.*)\n(.*)" "l1\nl2") ]
