let reverse = l: builtins.genList (i: builtins.elemAt l (builtins.length l - 1 - i)) (builtins.length l); in reverse [ 1 2 3 4 ]
