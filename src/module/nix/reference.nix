# reference.nix - every declared option as one flat list, sorted by name: what the options
# reference (docs/options.md, flakectl-configuration(5)) and `flakectl option --search` are
# made of. Options inside submodules are listed with `<name>` standing for the attribute
# name (users.users.<name>.uid) and `*` for a list element, as NixOS's manual does.
# Given `ev` (a host's evaluation), its options, the flake's own included; otherwise the
# bundled modules alone, over a placeholder host of `platform` (no flake is read): defaults
# that depend on the platform differ between the three (the caller compares them).
{ bundledModules ? [ ], ev ? null, platform ? "nixos" }:
let
  inherit (builtins) attrNames concatMap concatStringsSep isString match sort;
  lib = import ./lib.nix;
  modules = import ./modules.nix lib;

  host = {
    name = "<host>";
    system = if platform == "darwin" then "aarch64-darwin" else "x86_64-linux";
    inherit platform;
    isLinux = platform == "nixos" || platform == "wsl";
    isDarwin = platform == "darwin";
    isWSL = platform == "wsl";
    deploy = { };
  };
  ev' = if ev != null then ev else modules.evalModules {
    modules = bundledModules;
    args = { inherit lib host; pkgs = import ./pkgs.nix { inherit lib; system = host.system; }; };
    rootFile = "<bundled>";
  };

  # Quotes a name only when it is neither an identifier nor a placeholder.
  showName = path: concatStringsSep "." (map (p:
    if match "[A-Za-z_][A-Za-z0-9_'-]*" p != null || p == "<name>" || p == "*" then p
    else "\"${p}\"") path);

  # The submodules a type holds, with the path elements that lead into each.
  subs = t:
    let m = t.merge or null; n = t.nested or { }; in
    if m == "attrsOf" then map (s: s // { suffix = [ "<name>" ] ++ s.suffix; }) (subs n.elemType)
    else if m == "list" then map (s: s // { suffix = [ "*" ] ++ s.suffix; }) (subs n.elemType)
    else if m == "nullOr" then subs n.elemType
    else if m == "either" then subs n.left ++ subs n.right
    else if m == "coercedTo" then subs n.to
    else if m == "submodule" then [ { type = t; suffix = [ ]; } ]
    else [ ];

  entry = leaf:
    let d = leaf.decl; in {
      name = showName leaf.path;
      type = d.type.description or "unspecified";
      description = d.description or "";
      # Lazy on purpose: a default may need the configuration; the caller forces each
      # field on its own and says so when one cannot be shown.
      hasDefault = d ? default || (d.defaultText or null) != null;
      default = d.default or null;
      defaultText = d.defaultText or null;
      hasExample = (d.example or null) != null;
      example = d.example or null;
      file = leaf.file;
      line = if leaf.pos != null then leaf.pos.line else 0;
      hidden = (d.internal or false) || !(d.visible or true);
    };

  walk = args: tree: concatMap (n:
    let node = tree.${n}; in
    if n == modules.leafTag then [ ]
    else if modules.isLeaf node then
      [ (entry node) ] ++ concatMap (s:
        let
          path = node.path ++ s.suffix;
          sub = modules.evalModulesAt {
            inherit path;
            modules = s.type.nested.modules;
            args = args // { name = lib.last path; };
            # the submodule is written in the file declaring the option
            rootFile = node.file;
          };
        in walk args sub.options) (subs node.decl.type)
    else walk args node) (attrNames tree);
in
sort (a: b: a.name < b.name) (walk ev'.args ev'.options)
