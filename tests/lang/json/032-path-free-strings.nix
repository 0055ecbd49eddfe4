{ p = toString /a/b/../c; s = "x/y"; }
