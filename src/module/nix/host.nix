# host.nix - evaluates one host of a flake: calls the flake's outputs, runs the module system
# over the bundled modules and the host's own, checks assertions, and exposes the config,
# the resolved profile and the toplevel derivation.
{ flakeDir, hostName, bundledModules, flakeInfo ? { }, inputs ? { }, flakectl ? "/usr/bin/flakectl"
, flakeOutputs ? null }:
let
  lib = import ./lib.nix;
  modules = import ./modules.nix lib;
  flake = import (flakeDir + "/flake.nix");
  self = outputs // { outPath = flakeDir; inherit inputs; };
  # another host of the same evaluator passes the outputs it computed (fl_host_session_select):
  # the flake's outputs are evaluated once for all the hosts of a run
  outputs = if flakeOutputs != null then flakeOutputs else flake.outputs (inputs // { inherit self; });
  hosts = outputs.hosts or (throw "the flake's outputs have no `hosts' attribute");
  decl = hosts.${hostName};
  platform = decl.platform or "nixos";
  host = {
    name = hostName;
    system = decl.system or (throw "hosts.${hostName}.system is not set (e.g. \"x86_64-linux\")");
    inherit platform;
    isLinux = platform == "nixos" || platform == "wsl";
    isDarwin = platform == "darwin";
    isWSL = platform == "wsl";
    deploy = decl.deploy or { };
  };
  pkgs = import ./pkgs.nix { inherit lib; system = host.system; };
  ev = modules.evalModules {
    modules = bundledModules ++ (decl.modules or [ ]);
    args = { inherit lib pkgs host; };
    rootFile = toString flakeDir + "/flake.nix";
  };
  config = ev.config;

  # Failed assertions, each with the file that defined it.
  assertionDefs = modules.activeDefs [ "assertions" ] ev.tree.assertions.defs;
  failed = lib.concatMap (d: map (a: "${a.message or "(no message)"} (defined in ${modules.showDef d})")
    (builtins.filter (a: !(a.assertion or true)) d.value)) assertionDefs;
  checkedConfig =
    if failed != [ ] then
      throw "failed assertions for host `${hostName}':\n${lib.concatMapStringsSep "\n" (m: "       - ${m}") failed}"
    else config;
  # Native packages of environment.systemPackages and every home.packages, once each, with
  # the definition that declared them (what `flakectl check` names).
  isNative = p: builtins.isAttrs p && (p._type or null) == "nativePackage";
  defsAt = path: let info = modules.optionInfo ev path; in
    if info.found or false then modules.activeDefs path info.leaf.defs else [ ];
  declared = path: values:
    let
      defs = defsAt path;
      where = p:
        let hits = builtins.filter (d: builtins.isList d.value && builtins.any (x: isNative x && x.native == p.native) d.value) defs;
        in if hits != [ ] then modules.showDef (builtins.head hits)
           else if defs != [ ] then modules.showDef (builtins.head defs) else lib.concatStringsSep "." path;
    in map (p: p.native // { name = p.name; declaredAt = where p; }) (builtins.filter isNative values);
  nativePackages =
    let
      all = declared [ "environment" "systemPackages" ] checkedConfig.environment.systemPackages
        ++ lib.concatLists (lib.mapAttrsToList (u: hm: declared [ "home-manager" "users" u "home" "packages" ] hm.home.packages)
          checkedConfig.home-manager.users);
      key = p: builtins.toJSON (removeAttrs p [ "declaredAt" ]);
    in builtins.attrValues (builtins.foldl' (acc: p: if acc ? ${key p} then acc else acc // { ${key p} = p; }) { } all);
  # NixOS's systemd module warns (its `warnings`, not an assertion: such a configuration
  # builds there) about a service with both reloadIfChanged and reloadTriggers; same
  # condition and text, with where the two are defined.
  whereDefined = path: let defs = defsAt path; in
    if defs != [ ] then lib.concatMapStringsSep ", " modules.showDef defs else modules.showPath path;
  reloadTriggerWarnings = lib.concatLists (lib.mapAttrsToList (n: s:
    lib.optional (s.enable && s.reloadIfChanged && s.reloadTriggers != [ ])
      ("Service '${n}.service' has both 'reloadIfChanged' and 'reloadTriggers' set. This is probably not what you want, because 'reloadTriggers' behave the same way as 'restartTriggers' if 'reloadIfChanged' is set."
       + " (reloadIfChanged at ${whereDefined [ "systemd" "services" n "reloadIfChanged" ]}; reloadTriggers at ${whereDefined [ "systemd" "services" n "reloadTriggers" ]})"))
    checkedConfig.systemd.services);
  # What the types of home-manager's free-form unit sections cannot check, located at the
  # user's definition: unit and target names become paths under ~/.config/systemd/user, and
  # X-SwitchMethod takes home-manager's four values.
  userUnitProblems = lib.concatLists (lib.mapAttrsToList (user: hm:
    lib.concatMap (kind: lib.concatLists (lib.mapAttrsToList (n: u:
      let
        at = rest: [ "home-manager" "users" user "systemd" "user" kind ] ++ rest;
        badName = x: builtins.match "[A-Za-z0-9:_@.\\-]+" x == null || lib.hasPrefix "." x;
        targets = (if u.wantedBy == null then [ ] else u.wantedBy)
          ++ lib.toList (u.Install.WantedBy or [ ]) ++ lib.toList (u.Install.RequiredBy or [ ]);
        badTargets = builtins.filter badName targets;
        method = (u.unitConfig // u.Unit).X-SwitchMethod or null;
        methods = [ "reload" "restart" "stop-start" "keep-old" ];
      in
        lib.optional (badName n) {
          defs = defsAt (at [ ]);
          msg = "`${modules.showPath (at [ n ])}': `${n}' is not a systemd unit name (letters, digits, ':', '_', '@', '.', '-'; not starting with '.')";
        }
        ++ lib.optional (badTargets != [ ]) {
          defs = defsAt (at [ n "wantedBy" ]) ++ defsAt (at [ n "Install" ]);
          msg = "`${modules.showPath (at [ n ])}': the target `${builtins.head badTargets}' (wantedBy, Install.WantedBy or Install.RequiredBy) is not a systemd unit name";
        }
        ++ lib.optional (method != null && !(builtins.elem method methods)) {
          defs = defsAt (at [ n "Unit" ]) ++ defsAt (at [ n "unitConfig" ]);
          msg = "`${modules.showPath (at [ n ])}': X-SwitchMethod is `${toString method}'; home-manager's values are ${lib.concatStringsSep ", " methods}";
        }) hm.systemd.user.${kind})) [ "services" "sockets" "timers" ])
    checkedConfig.home-manager.users);
  unitChecked =
    if userUnitProblems == [ ] then checkedConfig
    else let p = builtins.head userUnitProblems; in
      modules.throwAt (if p.defs != [ ] then (builtins.head p.defs).pos else null)
        "${p.msg}${lib.optionalString (p.defs != [ ]) " (defined at ${lib.concatMapStringsSep ", " modules.showDef p.defs})"}";
  built = import ./toplevel.nix { inherit lib pkgs host flakeInfo flakectl nativePackages; config = unitChecked; };

  # What `flakectl option` shows for an option path (a list of names).
  describe = path:
    let info = modules.optionInfo ev path; in
    if info.found then
      let leaf = info.leaf; d = leaf.decl; in {
        found = true;
        type = d.type.description;
        description = d.description or "";
        hasDefault = d ? default;
        default = d.default or null;
        declaredIn = if leaf.pos != null then modules.showPos leaf.pos else leaf.file;
        definedIn = map modules.showDef leaf.defs;
        value = leaf.value;
      }
    else {
      found = false;
      missing = info.missing or null;
      children = if builtins.isAttrs info.at
        then builtins.filter (n: n != modules.leafTag) (builtins.attrNames info.at) else [ ];
    };
  # What `flakectl why` shows for a file, unit, package or option (nix/why.nix).
  why = import ./why.nix { inherit lib modules ev; config = checkedConfig; inherit (built) origins; };
in
{
  inherit host lib pkgs modules ev hosts describe why;
  config = checkedConfig;
  inherit (built) profile secrets toplevel;
  warnings = checkedConfig.warnings ++ reloadTriggerWarnings;
  hostNames = builtins.attrNames hosts;
  inherit outputs;
}
