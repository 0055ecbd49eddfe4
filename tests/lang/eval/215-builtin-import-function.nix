[ (import ./fixtures/fn.nix { a = 1; }) (import ./fixtures/fn.nix { a = 1; b = 10; }) ]
