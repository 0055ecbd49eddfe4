{ lib, ... }:
{
  options.t.name = lib.mkOption { type = lib.types.str; };
}
