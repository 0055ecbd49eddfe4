let ${toString 1} = 1; in )
