with builtins; [ (isString currentSystem) (stringLength currentSystem > 0) ]
