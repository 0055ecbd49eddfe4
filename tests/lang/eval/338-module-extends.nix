let
  fix = f: let x = f x; in x;
  extends = ext: f: self: let super = f self; in super // ext self super;
  base = self: { a = 1; b = self.a + 1; };
  over = self: super: { a = 10; c = super.b + 100; };
in fix (extends over base)
