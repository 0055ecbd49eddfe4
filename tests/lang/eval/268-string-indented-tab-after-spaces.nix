''
  	tab after two spaces
  x
''
