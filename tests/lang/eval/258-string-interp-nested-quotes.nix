let a = "x"; in "a ${"b ${"c ${a}"}"} d"
