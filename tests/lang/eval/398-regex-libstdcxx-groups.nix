with builtins; [
  (match "(a|ab)(c|bcd)(d*)" "abcd")
  (match "((a)|b)*" "ab")
  (match "((a)|(b))*" "ab")
  (match "(a?)(ab)?b?" "ab")
  (match "(a{1,2})(a*)" "aaa")
  (match "(a|b){2,3}" "abb")
  (match "([0-9]+)\\.([0-9]+)(\\.([0-9]+))?" "1.22")
  (match "(.*)-([^-]*)" "foo-bar-baz")
  (match "x(y*)*z" "xyyz")
  (match "([[:alpha:]]+)([[:digit:]]*)" "abc123")
]
