{ lib, ... }:
{
  networking.hostName = "other";
}
