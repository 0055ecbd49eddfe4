# toXML keeps the context of the strings it writes.
let
  d = derivation { name = "d"; system = "s"; builder = "/b"; };
in
[
  (builtins.getContext (builtins.toXML { a = "${d}"; }))
  (builtins.getContext (builtins.toXML d))
  (builtins.hasContext (builtins.toXML { a = "plain"; }))
]
