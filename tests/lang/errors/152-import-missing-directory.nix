import ./fixtures/missing-dir
