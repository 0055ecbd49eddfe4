[ (x: x) ({ a, ... }: a) map (map (x: x)) builtins.add (builtins.add 1) ]
