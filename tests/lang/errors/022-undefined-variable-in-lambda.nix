let f = foo: foo + bar; in f 1
