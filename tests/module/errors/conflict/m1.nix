{ lib, ... }:
{
  networking.hostName = "one";
}
