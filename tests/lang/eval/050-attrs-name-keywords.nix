{ "else" = 1; "in" = 2; "with" = 3; "assert" = 4; "rec" = 5; "inherit" = 6; "null" = 7; "true" = 8; "if" = 9; }
