let parse = builtins.match "([a-z]+)-([0-9.]+)"; in map parse [ "hello-2.10" "nope" "foo-1" ]
