let
  fix = f: let x = f x; in x;
  composeExtensions = f: g: self: super: let fs = f self super; in fs // g self (super // fs);
  base = self: { v = 1; w = self.v * 2; };
  o1 = self: super: { v = super.v + 1; };
  o2 = self: super: { v = super.v * 10; u = self.w; };
in fix (self: let super = base self; in super // composeExtensions o1 o2 self super)
