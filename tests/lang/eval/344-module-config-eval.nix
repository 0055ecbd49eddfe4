let
  evalModules = modules:
    let
      config = builtins.foldl' (acc: m: acc // (m { inherit config; })) { } modules;
    in config;
in evalModules [
  ({ config }: { name = "host"; fqdn = "${config.name}.example.org"; })
  ({ config }: { motd = "Welcome to ${config.fqdn}"; })
]
