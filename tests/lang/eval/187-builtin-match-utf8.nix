with builtins; [ (match "(.)(.*)" "é!") (match "é+" "éé") ]
