with builtins; [ (fromJSON "1") (fromJSON "-2.5") (fromJSON "true") (fromJSON "null") (fromJSON "\"s\"") (fromJSON " [ ] ") (fromJSON "1.0") (fromJSON "1e2") ]
