{ a = { outPath = "/some/where"; x = 1; }; }
