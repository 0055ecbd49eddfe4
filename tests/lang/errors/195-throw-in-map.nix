map (x: if x < 3 then x else throw "element ${toString x}") [ 1 2 3 ]
