# One host per error of the module engine; each names the file:line:col checked by
# tests/e2e/module_native.sh.
{
  outputs = { self, ... }:
    let host = modules: { system = "x86_64-linux"; platform = "nixos"; inherit modules; }; in {
      hosts = {
        dupdecl = host [ ./decl.nix ./dupdecl.nix ];
        groupdef = host [ ./groupdef.nix ];
        mkmerge = host [ ./mkmerge.nix ];
        undefined = host [ ./decl.nix ./undefined.nix ];
        mixed = host [ ./mixed.nix ];
        nullconflict = host [ ./decl.nix ./null1.nix ./null2.nix ];
        listelem = host [ ./decl.nix ./listelem.nix ];
        subtypo = host [ ./subtypo.nix ];
        priority = host [ ./decl.nix ./priority.nix ];
      };
    };
}
