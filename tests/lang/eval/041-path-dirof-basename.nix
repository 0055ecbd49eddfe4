[ (dirOf /a/b/c) (dirOf /a) (baseNameOf /a/b/c) (baseNameOf "a/b/") (dirOf "a/b") (dirOf "abc") (baseNameOf "") ]
