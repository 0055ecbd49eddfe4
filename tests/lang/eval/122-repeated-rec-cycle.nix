rec { a = { inherit b; }; b = { inherit a; }; }
