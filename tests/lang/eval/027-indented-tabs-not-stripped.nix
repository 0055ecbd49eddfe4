''
	tab indented
  space
''
