with builtins; [ (parseDrvName "hello-2.10") (parseDrvName "nix-2.8.0pre") (parseDrvName "foo") (parseDrvName "foo-bar-1.0-rc1") (parseDrvName "a-b-c") ]
