({ a = throw "no"; } // { b = 1; }).b
