# builtins.split takes its spans and groups from libstdc++'s search, which is neither
# leftmost-longest overall nor POSIX's choice of groups.
with builtins; [
  (split "x(y*)*z" "axyyzb")
  (split "([ab]+((bc?.?))+[ab]|[ab])*((a?|[ab]*([ab]|ac+[ab])(c?|.a*)|$[ab]$)c*)" "bxcbcx")
  (split "(^a|b)" "aabab")
  (split "a*" "baaac")
  (split "(a|)" "xax")
  (split "^" "ab")
  (split "$" "ab")
  (split "(a?)(ab)?b?" "zabz")
  # nested repeated groups: glibc's submatch recovery takes minutes on these
  (split "b[ab]?(((baa*)?)?([ab]*|([ab]..){1,2}c?a?|c+([ab]*))*)*" "bacc")
  (match "b[ab]?(((baa*)?)?([ab]*|([ab]..){1,2}c?a?|c+([ab]*))*)*" "bacc")
]
