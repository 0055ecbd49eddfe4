''
  indented
    more
''
