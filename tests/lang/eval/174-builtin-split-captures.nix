with builtins; [ (split "(a)|(b)" "xaybz") (split "([[:digit:]]+)" "a12b3c") (split "(x)?y" "yxy") ]
