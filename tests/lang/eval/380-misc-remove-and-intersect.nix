with builtins; intersectAttrs (removeAttrs { a = 1; b = 2; c = 3; } [ "a" ]) { a = 10; b = 20; c = 30; d = 40; }
