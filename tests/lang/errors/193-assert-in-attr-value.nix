{ a = 1; b = assert false; 2; }
