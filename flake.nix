{
  description = "flakectl example: a two-node homelab, a MacBook and a WSL box";

  # Other flakes (module collections, pinned sources) go here; `flakectl lock` pins them.
  inputs = { };

  outputs = { self, ... }:
    let
      # Every host gets its own directory plus the modules all machines share, and a role.
      host = name: { system, platform, modules ? [ ], tags ? [ ] }: {
        inherit system platform;
        modules = [ ./hosts/${name} ./modules/common ] ++ modules;
        # Where `flakectl switch --on @TAG` and `--target-host` deploy to.
        deploy = {
          targetHost = "root@${name}";
          inherit tags;
        };
      };
    in
    {
      hosts = {
        homelab-node1 = host "homelab-node1" {
          system = "x86_64-linux";
          platform = "nixos";
          modules = [ ./modules/server ];
          tags = [ "server" "homelab" ];
        };
        homelab-node2 = host "homelab-node2" {
          system = "x86_64-linux";
          platform = "nixos";
          modules = [ ./modules/server ];
          tags = [ "server" "homelab" ];
        };
        macbook = host "macbook" {
          system = "aarch64-darwin";
          platform = "darwin";
          modules = [ ./modules/desktop ];
          tags = [ "laptop" ];
        };
        wsl = host "wsl" {
          system = "x86_64-linux";
          platform = "wsl";
          modules = [ ./modules/desktop ];
          tags = [ "laptop" ];
        };
      };
    };
}
