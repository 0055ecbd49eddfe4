[ "# not a comment" "/* nor */" ]
