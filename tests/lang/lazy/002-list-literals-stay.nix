[ (1 + 1) 3 "s" 1.5 /a/b null true ]
