let k = null; in { ${k} = 1; a = 2; }
