[ ("a" + "b") ("" + "") ("x" + toString 1) ]
