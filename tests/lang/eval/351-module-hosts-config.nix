let
  mkHost = name: { ip, roles ? [ ] }: { inherit name ip roles; isWeb = builtins.elem "web" roles; };
  hosts = builtins.mapAttrs mkHost { alpha = { ip = "10.0.0.1"; roles = [ "web" "db" ]; }; beta = { ip = "10.0.0.2"; }; };
in { inherit hosts; web = builtins.filter (n: hosts.${n}.isWeb) (builtins.attrNames hosts); }
