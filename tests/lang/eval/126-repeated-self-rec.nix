rec { self = { inherit x; }; x = [ 1 2 3 ]; y = x; }
