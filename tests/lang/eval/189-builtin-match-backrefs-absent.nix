with builtins; [ (match "(a)?(b)" "b") (match "(x)?(y)?" "") ]
