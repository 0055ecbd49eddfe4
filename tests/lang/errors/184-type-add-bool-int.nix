1 + true
