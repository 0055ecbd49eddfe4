with builtins; [ (floor 1.5) (ceil 1.5) (floor (-1.5)) (ceil (-1.5)) (floor 2) (ceil 2.0) (floor 0.0) ]
