with builtins; [ (toString 1) (toString (-3)) (toString 1.0) (toString 1.5) (toString true) (toString false) (toString null) (toString "s") (toString /a/b) ]
