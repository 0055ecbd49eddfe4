[ 1 (-5) 2.5 1.0 true false null "s" ]
