with builtins; [ (match "[abc]+" "cab") (match "[^abc]+" "xyz") (match "[a-f0-9]+" "dead99") (match "[]a]+" "]a]") (match "[a-]+" "-a-") (match "[^]]+" "xy") ]
