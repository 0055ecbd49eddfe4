with builtins; [ (toJSON 1) (toJSON "s\n\"") (toJSON [ 1 2.5 null true ]) (toJSON { b = 1; a = [ ]; }) (toJSON { }) (toJSON 1.0) ]
