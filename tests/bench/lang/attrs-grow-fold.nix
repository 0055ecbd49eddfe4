# Large size: a set grown attribute by attribute with // inside a fold (each step copies the
# set so far), then every name looked up again.
let
  n = 6000;
  grown = builtins.foldl' (acc: i: acc // { "k${toString i}" = i; }) { } (builtins.genList (i: i) n);
in builtins.foldl' (a: i: a + grown."k${toString i}") 0 (builtins.genList (i: i) n)
