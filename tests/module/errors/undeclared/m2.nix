{ lib, ... }:
{
  networking.hostNme = "typo";
}
