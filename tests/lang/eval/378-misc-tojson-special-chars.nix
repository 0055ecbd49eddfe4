builtins.toJSON "\u0001 \t \r < > & '"
