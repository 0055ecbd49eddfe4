with builtins; [ (match "[.*+?(){}|^$]+" ".*+?(){}|^$") (match "[\\]+" "\\") (match "[a\\-z]+" "a-z\\") ]
