map (n: { name = "n${toString n}"; value = n; }) [ 1 2 3 ]
