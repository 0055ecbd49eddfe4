''
      deep
    ${"interp"} shallow
''
