{ lib, ... }:
{
  networking.hostName = "two";
}
