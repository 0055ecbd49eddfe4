{ ... }:
{
  networking = "not a set";
}
