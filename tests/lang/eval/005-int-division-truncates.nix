[ (9 / 4) (-9 / 4) (9 / -4) (-9 / -4) (0 / 5) (builtins.div 17 5) (builtins.div (-17) 5) ]
