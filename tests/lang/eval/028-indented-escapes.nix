''
  a ''$ b
  c ''' d
  e ''\n f
  g ''\t h ''\\ i
''
