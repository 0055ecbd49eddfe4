with builtins; [ (substring 0 3 "hello") (substring 1 2 "hello") (substring 3 100 "hello") (substring 10 2 "hello") (substring 0 0 "hello") (substring 2 (-1) "hello") (substring 0 1 "") ]
