[ 1 2 ( throw "in a list" ) ]
