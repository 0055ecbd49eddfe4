{ a = null; b = [ null ]; }
