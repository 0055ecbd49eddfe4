let f = { a, b ? 5 }@args: [ a b (args ? b) ]; in f { a = 1; }
