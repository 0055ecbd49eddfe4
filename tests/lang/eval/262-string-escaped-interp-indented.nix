''
  ''${not} ${"yes"} $${also-not}
''
