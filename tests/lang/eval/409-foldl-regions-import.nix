# Steps of foldl' that import a file (the import cache keeps what they read) or capture the
# accumulator in a thunk that a later step forces.
let
  xs = builtins.genList (i: i) 30;
  imported = builtins.foldl' (acc: i: acc + (import ./fixtures/lib.nix).double or (x: x) i) 0 xs;
  thunks = builtins.genList (i: builtins.foldl' (a: x: a + x + i) 0 (builtins.genList (j: j) 10)) 10;
  forced = builtins.foldl' (acc: t: acc + t) 0 thunks;
in [ imported forced thunks ]
