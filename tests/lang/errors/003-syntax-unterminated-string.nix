let s = "abc;
in s
