let v = "val"; in ''
    ${v}
  two ${v}
''
