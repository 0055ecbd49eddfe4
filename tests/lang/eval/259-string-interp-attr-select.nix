let s = { a.b = "deep"; }; in "${s.a.b}-${s.a.b}"
