"${toString (1 + 2)} ${if true then "yes" else "no"} ${builtins.concatStringsSep "," [ "a" "b" ]}"
