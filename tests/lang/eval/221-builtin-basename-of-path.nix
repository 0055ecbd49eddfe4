[ (baseNameOf ./fixtures/hello.txt) (builtins.baseNameOf ./fixtures) ]
