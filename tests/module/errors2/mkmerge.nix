{ lib, ... }:
{
  networking.hostName = lib.mkMerge "x";
}
