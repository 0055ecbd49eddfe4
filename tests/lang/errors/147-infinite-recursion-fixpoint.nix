let fix = f: let x = f x; in x; in (fix (self: { a = self.b; b = self.a; })).a
