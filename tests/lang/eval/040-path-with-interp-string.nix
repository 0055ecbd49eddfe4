let p = /a/b; in [ (toString p) "${toString p}/c" (baseNameOf p) (dirOf p) ]
