let
  config = { services.web = { port = 80; proto = "http"; }; };
in
  "${config.services.web.prot}://x"
