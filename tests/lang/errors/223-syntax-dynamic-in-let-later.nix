let a = 1; ${toString 1} = 1; in 2
