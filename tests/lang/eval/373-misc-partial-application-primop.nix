let addTen = builtins.add 10; in map addTen [ 1 2 3 ]
