let y = 10; in rec { a = y; b = a + y; y = 1; }
