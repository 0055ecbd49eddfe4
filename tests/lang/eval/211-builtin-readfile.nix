builtins.readFile ./fixtures/hello.txt
