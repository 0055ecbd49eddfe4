[ "a\"b" "back\\slash" "nl\nx" "tab\tx" "cr\rx" "/" "${"$"}{x}" ]
