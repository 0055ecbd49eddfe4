let x = "let"; in with { x = "with"; y = "with-y"; }; [ x y ]
