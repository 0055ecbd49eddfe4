with builtins; [ (pathExists (./fixtures + "/dir/default.nix")) (pathExists ./fixtures/tree/link) (pathExists (./fixtures + "/tree/nope")) ]
