let x = "a"; in { ${x} = 1; a = 2; }
