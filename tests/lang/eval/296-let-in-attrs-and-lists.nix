[ (let a = 1; in a) { x = let b = 2; in b; } ]
