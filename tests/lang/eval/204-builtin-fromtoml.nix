builtins.fromTOML ''
  a = 1
  b = "two"
  c = [ 1, 2 ]
  [d]
  e = true
  f.g = 1.5
''
