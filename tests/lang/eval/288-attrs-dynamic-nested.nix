let k = "x"; in { ${k}.y = 1; other.${k} = 2; }
