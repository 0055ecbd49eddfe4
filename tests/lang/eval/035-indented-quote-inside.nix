''
  say "hi" and 'single' and ' x
''
