let x = 1; in
  assert 1 == 2; x
