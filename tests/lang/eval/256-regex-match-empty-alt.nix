with builtins; [ (match "(a|)" "") (match "(|a)b" "ab") ]
