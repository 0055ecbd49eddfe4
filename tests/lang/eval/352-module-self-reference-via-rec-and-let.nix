let
  cfg = rec { port = 8080; url = "http://localhost:${toString port}"; nested = { inherit url; }; };
in cfg
