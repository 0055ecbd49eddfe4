let y = 3; z = abort "halt ${toString y}"; in [ z ]
