{ a = { __toString = self: "custom"; }; }
