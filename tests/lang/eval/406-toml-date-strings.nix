# strings that look like dates are strings
builtins.fromTOML "a = \"1979-05-27\"\nb = '07:32:00'\nc = [ \"2020-02-29T00:00:00Z\" ]"
