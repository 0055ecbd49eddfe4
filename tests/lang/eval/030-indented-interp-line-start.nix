let x = "X\nY"; in ''
  ${x} at start
    ${x}
  end
''
