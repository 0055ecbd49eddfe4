let a-b = 1; c' = 2; d_e' = 3; in a-b + c' + d_e'
