[ /nix/store/ ]
