let x = 1; in
    abort "stop"
