with builtins; [ (match "[[:xdigit:]]+" "09afAF") (match "[[:blank:]]+" " \t") (match "[[:print:]]+" "a b") (match "[[:graph:]]+" "a b") ]
