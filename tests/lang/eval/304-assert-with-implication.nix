let x = 5; in assert x > 0 -> x < 10; x
