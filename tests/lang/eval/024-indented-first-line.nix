''first line kept
  second
  ''
