1 -> true
