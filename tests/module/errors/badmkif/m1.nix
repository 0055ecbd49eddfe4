{ lib, ... }:
{
  networking.hostName = lib.mkIf "yes" "x";
}
