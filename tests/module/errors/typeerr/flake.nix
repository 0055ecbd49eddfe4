{
  outputs = { self, ... }: {
    hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./m1.nix ./m2.nix ]; };
  };
}
