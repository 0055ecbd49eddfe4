{ lib, ... }:
let inherit (lib) mkOption types; in
{
  options.test = {
    scalar = mkOption { type = types.str; default = "default"; description = "a scalar"; };
    forced = mkOption { type = types.int; default = 0; };
    list = mkOption { type = types.listOf types.str; default = [ "from-default" ]; };
    lines = mkOption { type = types.lines; default = ""; };
    maybe = mkOption { type = types.nullOr types.port; default = null; };
    choice = mkOption { type = types.enum [ "a" "b" ]; default = "a"; };
    either = mkOption { type = types.either types.int types.str; default = 1; };
    platform = mkOption { type = types.str; };
    servers = mkOption {
      type = types.attrsOf (types.submodule ({ name, config, ... }: {
        options = {
          port = mkOption { type = types.port; default = 80; };
          host = mkOption { type = types.str; default = name; };
          url = mkOption { type = types.str; default = "http://${config.host}:${toString config.port}"; };
          tags = mkOption { type = types.listOf types.str; default = [ ]; };
        };
      }));
      default = { };
    };
    derived = mkOption { type = types.str; default = ""; };
  };
}
