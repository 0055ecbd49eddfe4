let v = 42; in v + throw "value was ${toString v}"
