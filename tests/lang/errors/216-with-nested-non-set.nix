let x = 1; in
  with { }; with x; a