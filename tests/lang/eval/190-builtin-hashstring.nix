with builtins; [ (hashString "md5" "") (hashString "sha1" "") (hashString "sha256" "") (hashString "md5" "abc") (hashString "sha1" "abc") (hashString "sha256" "abc") ]
