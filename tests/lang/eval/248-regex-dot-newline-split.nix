builtins.split "." "a\nb"
