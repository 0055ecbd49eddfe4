builtins.fromJSON ''"\u00e9\n\t\"\\ \/ \ud83d\ude00"''
