with builtins; [ (toString { __toString = self: "via toString"; }) (toString { outPath = "/p"; }) (toString { __toString = self: "n=${toString self.n}"; n = 7; }) ]
