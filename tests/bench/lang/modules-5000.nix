# A recursive merge of 5000 module-like sets (nested options, lists to concatenate, sets to
# merge), the way a module system folds definitions together.
let
  mkModule = i: {
    services."svc${toString (i / 5)}" = {
      enable = true;
      ports = [ (8000 + i) ];
      settings = builtins.listToAttrs (builtins.genList (j: { name = "key${toString (i * 10 + j)}"; value = "value ${toString j}"; }) 10);
      extraConfig = [ "line ${toString i}" ];
    };
    users."user${toString i}" = { uid = 1000 + i; groups = [ "group${toString (i / 50)}" ]; };
    environment.packages = [ "pkg${toString i}" ];
    networking.hosts."10.0.${toString (i / 250)}.${toString (i - i / 250 * 250)}" = [ "h${toString i}" ];
  };
  mergeAll = vs:
    if builtins.all builtins.isList vs then builtins.concatLists vs
    else if builtins.all builtins.isAttrs vs then builtins.zipAttrsWith (n: mergeAll) vs
    else builtins.elemAt vs (builtins.length vs - 1);
  config = mergeAll (builtins.genList mkModule 5000);
in builtins.deepSeq config [
  (builtins.length (builtins.attrNames config.services))
  (builtins.length (builtins.attrNames config.users))
  (builtins.length config.environment.packages)
  (builtins.length config.services.svc7.ports)
  (builtins.length (builtins.attrNames config.networking.hosts))
]
