let
  toINI = set: builtins.concatStringsSep "\n" (map (sec: "[${sec}]\n" + builtins.concatStringsSep "\n" (map (k: "${k}=${toString set.${sec}.${k}}") (builtins.attrNames set.${sec}))) (builtins.attrNames set));
in toINI { main = { a = 1; b = "x"; }; other = { c = true; }; }
