let build = n: [ n ] ++ (if n < 0 then [ ] else build (n + 1)); in builtins.length (build 0)
