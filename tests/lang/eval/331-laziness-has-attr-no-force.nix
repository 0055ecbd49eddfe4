{ a = throw "no"; } ? a
