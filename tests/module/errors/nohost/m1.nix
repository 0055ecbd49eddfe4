{ lib, ... }:
{
  networking.hostName = "ok";
}
