{ config, lib, ... }:
{
  t.needed = lib.mkMerge [ (lib.mkDefault "low") (lib.mkIf (config.t.name == "d") (lib.mkForce "forced")) "plain" ];
  t.words = lib.mkMerge [ (lib.mkAfter [ "z" ]) [ "m" ] (lib.mkBefore [ "a" ]) (lib.mkOrder 1000 [ "n" ]) ];
  networking.hostName = config.t.needed;
}
