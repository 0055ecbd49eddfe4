{ lib, ... }:
{
  users.users.bob.uid = "1000";
}
