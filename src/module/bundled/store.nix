# Built-in options: where builds may fetch what they would otherwise build (docs/cache.md).
{ lib, ... }:
let inherit (lib) mkOption types; in
{
  options.store = {
    substituters = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "https://cache.example.org" ];
      description = ''
        Binary caches (file://, http://, https://, in Nix's format) that `flakectl build` and
        `switch` ask, in order, for a store path before building it. A path is fetched only
        when one of store.trustedPublicKeys signed it, and its NAR hash is checked before it
        is registered. --substituters adds to this list.
      '';
    };
    trustedPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
      description = ''
        Public keys (name:base64, as `flakectl cache keygen` and `nix key` print them) whose
        signatures make a cache's path acceptable. --trusted-public-key adds to this list.
      '';
    };
  };
}
