# A run of quantifiers is one quantifier (libstdc++); glibc compiles `a` + 20 `+` in seconds.
with builtins; [
  (split "a++++++++++++++++++++++++++++++" "/aaa")
  (match "(a+)+*?(b?)??" "aab")
  (match "[+*]+\\++" "*+++")
  (match "a\\++" "a+++")
  (match "(a|b)*+c" "abc")
  (match "x[]+*]*?" "x]+")
  (match "[[:alpha:]+]+?" "ab+")
]
