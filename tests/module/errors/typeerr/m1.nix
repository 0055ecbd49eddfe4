{ lib, ... }:
{
  users.users.bob.isNormalUser = true;
}
