{ inherit ({ p = 1; q = 2; }) p; inherit (builtins) head; r = 3; }.p
