"hello ${name}"
