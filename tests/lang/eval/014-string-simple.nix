[ "" "a" "hello world" "tab\there" ]
