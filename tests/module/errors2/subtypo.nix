{ ... }:
{
  users.users.bob.extraGroup = [ "wheel" ];
}
