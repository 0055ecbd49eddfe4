map (builtins.match "[[:space:]]*([^=[:space:]]+)[[:space:]]*=[[:space:]]*(.*)") [ "key = value" "  a=b=c" "novalue" ]
