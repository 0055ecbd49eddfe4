let s = { outPath = "/out"; }; t = { __toString = s: "T"; }; in [ "${s}" "${t}" "${toString /a/b}x" ]
