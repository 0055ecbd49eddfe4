{ lib, ... }:
{
  t.words = lib.mkIf true [ "a" 2 ];
}
