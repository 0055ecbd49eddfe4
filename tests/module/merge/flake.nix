# A flake exercising merge semantics: priorities, ordering, submodules, platform switches.
{
  description = "merge semantics";
  outputs = { self, ... }: {
    hosts = {
      linux = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./options.nix ./a.nix ./b.nix ]; };
      mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ./options.nix ./a.nix ./b.nix ]; };
      wsl = { system = "x86_64-linux"; platform = "wsl"; modules = [ ./options.nix ./a.nix ./b.nix ]; };
    };
  };
}
