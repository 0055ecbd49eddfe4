{ lib, ... }:
{
  options.t = {
    name = lib.mkOption { type = lib.types.str; default = "d"; };
    needed = lib.mkOption { type = lib.types.str; };
    maybe = lib.mkOption { type = lib.types.nullOr lib.types.int; default = null; };
    words = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };
}
