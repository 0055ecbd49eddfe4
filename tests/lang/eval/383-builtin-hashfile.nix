with builtins; map (a: hashFile a ./fixtures/hello.txt) [ "md5" "sha1" "sha256" "sha512" ]
