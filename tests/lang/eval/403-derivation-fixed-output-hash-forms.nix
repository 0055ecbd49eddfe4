# Fixed-output derivations: the hash in every form Nix reads (SRI, "sha256:" base32, bare hex,
# base32 and base64 with outputHashAlgo), flat and recursive; outPath and drvPath must be Nix's.
let
  fod = attrs: derivation ({ name = "k3s"; system = "builtin"; builder = "builtin:fetchurl"; url = "http://example.org/k3s"; } // attrs);
  show = d: [ d.outPath d.drvPath ];
in map show [
  (fod { outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; })
  (fod { outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; outputHashAlgo = ""; })
  (fod { outputHash = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"; })
  (fod { outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; outputHashAlgo = "sha256"; })
  (fod { outputHash = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"; outputHashAlgo = "sha256"; outputHashMode = "recursive"; })
  (fod { outputHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; outputHashAlgo = "sha256"; executable = true; outputHashMode = "recursive"; })
  (derivation { name = "uses-it"; system = "x86_64-linux"; builder = "/bin/sh"; src = fod { outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }; })
]
