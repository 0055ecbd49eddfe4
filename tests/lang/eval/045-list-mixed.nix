[ 1 "two" 3.5 true null [ 4 ] { five = 5; } ]
