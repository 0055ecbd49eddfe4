1 or 2 or
