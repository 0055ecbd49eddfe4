# a comment line
  throw "boom"
