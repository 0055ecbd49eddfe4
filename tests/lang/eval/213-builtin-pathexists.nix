with builtins; [ (pathExists ./fixtures/hello.txt) (pathExists ./fixtures/nope) (pathExists ./fixtures/tree) (pathExists /definitely/not/here) ]
