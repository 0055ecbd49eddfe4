# why.nix - `flakectl why`: the definitions that put a file, a unit, a package or an option's
# value on a host, each with its location, priority and order and whether it won, and the
# options that produced it. Returns plain data (strings, numbers, Booleans, lists) that
# src/module/why.c reads; an unknown target is { error; candidates; } and the C side words
# the "did you mean". Only flakectl runs it (it needs the native __flakectlExplainDefs).
{ lib, modules, ev, config, origins }:
let
  inherit (builtins) filter concatMap attrNames isAttrs isList length head elemAt substring
    stringLength tryEval typeOf match any;
  inherit (lib) hasPrefix removePrefix concatStringsSep mapAttrsToList unique take;
  explain = builtins.__flakectlExplainDefs;
  info = path: modules.optionInfo ev path;
  show = modules.showPath;

  # A printable head of a value (members of a short list shown one level deep); errors
  # inside it are not this command's business.
  summary = v: let r = tryEval (summaryAt 1 v); in if r.success then r.value else "«error»";
  shorten = s: if stringLength s > 64 then substring 0 61 s + "..." else s;
  summaryAt = depth: v:
    let t = typeOf v; in
    if t == "string" then "\"" + shorten (builtins.replaceStrings [ "\n" "\"" ] [ "\\n" "\\\"" ] v) + "\""
    else if t == "int" || t == "float" then toString v
    else if t == "bool" then (if v then "true" else "false")
    else if t == "null" then "null"
    else if t == "path" then toString v
    else if t == "list" then
      (if v == [ ] then "[ ]"
       else if depth > 0 && length v <= 8 then
         (let s = "[ ${concatStringsSep " " (map (x: let r = tryEval (summaryAt 0 x); in if r.success then r.value else "«error»") v)} ]"; in
          if stringLength s <= 72 then s else "[ ${toString (length v)} elements ]")
       else "[ ${toString (length v)} element${if length v == 1 then "" else "s"} ]")
    else if t == "set" then
      (if pkgName v != null then (if depth > 0 then "package ${pkgName v}" else pkgName v)
       else if v ? _type then "«${v._type}»"
       else if v == { } then "{ }"
       else if depth == 0 then "{ ... }"
       else "{ ${concatStringsSep "; " (take 4 (attrNames v))}${if length (attrNames v) > 4 then "; ..." else ""} }")
    else if t == "lambda" then "«lambda»" else "«${t}»";

  pkgName = p:
    if !isAttrs p then null
    else if (p._type or null) == "nativePackage" then p.name
    else if p ? outPath then (p.pname or p.name or null) else null;

  location = x:
    if x.pos != null then { inherit (x.pos) file line column; }
    else { file = x.file; line = 0; column = 0; };

  # x: one entry of __flakectlExplainDefs; n: how many real definitions came before the
  # declaration's default (whose index is n).
  defData = n: x: location x // {
    inherit (x) priority order enabled active;
    isDefault = x.index >= n;
    value = summary x.value;
  };

  withDefault = leaf: leaf.defs ++ lib.optional (leaf.decl ? default) {
    inherit (leaf) file pos;
    value = lib.mkOptionDefault leaf.decl.default;
  };

  leafData = keep: leaf:
    let all = explain leaf.path (withDefault leaf); in {
      option = show leaf.path;
      type = leaf.decl.type.description or "unspecified";
      declared = if leaf.pos != null then modules.showPos leaf.pos else leaf.file;
      value = summary leaf.value;
      defs = map (defData (length leaf.defs)) (filter keep all);
    };

  leavesOf = tree:
    if modules.isLeaf tree then [ tree ]
    else if isAttrs tree then concatMap (n: leavesOf tree.${n}) (filter (n: n != modules.leafTag) (attrNames tree))
    else [ ];
  # The options at or below path that something defines (the defaults left out).
  definedUnder = path:
    let i = info path; in
    filter (l: l.defs != [ ]) (if i.found then [ i.leaf ] else if i ? missing then [ ] else leavesOf i.at);

  # An element `key` of the attrsOf-submodule option at attrsPath (an /etc file, a unit, a
  # home file): who defines the element, then each of its options that is set.
  entryData = attrsPath: key:
    let
      leaf = (info attrsPath).leaf;
      outer = filter (x: isAttrs x.value && x.value ? ${key}) (explain leaf.path leaf.defs);
      keyDefs = map (x: { inherit (x) file; pos = builtins.unsafeGetAttrPos key x.value; value = x.value.${key}; }) outer;
      inner = explain (leaf.path ++ [ key ]) keyDefs;
      both = x: let o = elemAt outer x.index; in x // {
        enabled = x.enabled && o.enabled;
        active = x.active && o.active;
        index = 0;
      };
    in {
      entry = {
        option = show (leaf.path ++ [ key ]);
        type = leaf.decl.type.nested.elemType.description or "submodule";
        declared = if leaf.pos != null then modules.showPos leaf.pos else leaf.file;
        value = "{ ... }";
        defs = map (x: defData 1 (both x)) inner;
      };
      options = map (leafData (x: true)) (definedUnder (attrsPath ++ [ key ]));
    };

  # The options declared by the modules (files) whose winning definitions made this, that
  # something sets: `environment.etc."ssh/sshd_config".text <- services.openssh.*`.
  optionPaths = prefix: o:
    if lib.isOption o then [ prefix ]
    else if isAttrs o && !(o ? _type) then concatMap (n: optionPaths (prefix ++ [ n ]) o.${n}) (attrNames o)
    else [ ];
  commonPrefix = ps:
    let
      go = i: if any (p: length p <= i || elemAt p i != elemAt (head ps) i) ps then i else go (i + 1);
    in if ps == [ ] then [ ] else take (go 0) (head ps);
  producersOf = self: files:
    let
      mods = filter (m: builtins.elem m.file files) ev.modules;
      perModule = m:
        let
          paths = filter (p: self == "" || !(hasPrefix (show p) self || hasPrefix self (show p))) (optionPaths [ ] m.options);
          set = concatMap definedUnder paths;
        in lib.optional (set != [ ]) {
          module = m.file;
          options = show (commonPrefix paths) + (if length paths > 1 then ".*" else "");
          defined = map (leafData (x: true)) set;
        };
    in concatMap perModule mods;
  fromOrigins = paths:
    let set = concatMap definedUnder paths; in
    lib.optional (set != [ ]) {
      module = "(generated by flakectl)";
      options = concatStringsSep ", " (map (p: show p + (if (info p).found then "" else ".*")) paths);
      defined = map (leafData (x: true)) set;
    };
  # the files of the definitions that count, or would under a true mkIf
  winningFiles = ds: unique (map (d: d.file) (filter (d: (d.active || !d.enabled) && !d.isDefault) ds));

  fileResult = target: self: e: present: {
    kind = "file"; inherit target present;
    inherit (e) entry options;
    producers = producersOf self.option
      (winningFiles (e.entry.defs ++ concatMap (o: o.defs) e.options));
  };
  generatedResult = target: paths: {
    kind = "file"; inherit target; present = true;
    entry = null; options = [ ];
    producers = fromOrigins paths;
  };

  # ---- files
  etcKeys = mapAttrsToList (n: f: { key = n; inherit (f) target enable; }) config.environment.etc;
  users = config.home-manager.users;
  homeKeys = u: mapAttrsToList (n: f: { key = n; inherit (f) target enable; }) users.${u}.home.file;
  allFiles =
    map (e: "/etc/" + e.target) etcKeys ++ map (n: "/etc/" + n) (attrNames origins.etc)
    ++ concatMap (u: map (e: "~${u}/" + e.target) (homeKeys u) ++ map (p: "~${u}/" + p) (attrNames origins.home.${u}))
      (attrNames users);
  noFile = q: extra: {
    error = "no managed file ${q}${extra}";
    candidates = allFiles;
    what = "managed files";
  };
  # Defined only under a false mkIf: not on the machine, and this says which condition.
  offOnly = attrsPath: key:
    let leaf = (info attrsPath).leaf; in
    any (x: !x.enabled && isAttrs x.value && x.value ? ${key}) (explain leaf.path leaf.defs);
  offResult = kind: target: attrsPath: key:
    let e = entryData attrsPath key; in {
      inherit kind target; present = false;
      inherit (e) entry; options = [ ];
      producers = producersOf (show (attrsPath ++ [ key ])) (unique (map (d: d.file) e.entry.defs));
    };
  etcFile = q: rel:
    let hits = filter (e: e.target == rel) etcKeys; in
    if hits != [ ] then
      let e = head hits; in
      fileResult q { option = show [ "environment" "etc" e.key ]; } (entryData [ "environment" "etc" ] e.key) e.enable
    else if origins.etc ? ${rel} then generatedResult q origins.etc.${rel}
    else if offOnly [ "environment" "etc" ] rel then offResult "file" q [ "environment" "etc" ] rel
    else noFile q "";
  homeFile = q: u: rel:
    let hits = filter (e: e.target == rel) (homeKeys u); base = [ "home-manager" "users" u "home" "file" ]; in
    if hits != [ ] then
      let e = head hits; in
      fileResult q { option = show (base ++ [ e.key ]); } (entryData base e.key) e.enable
    else if origins.home.${u} ? ${rel} then generatedResult q origins.home.${u}.${rel}
    else noFile q "";
  # ~user/x, ~/x (the only managed user), or an absolute path under a user's home directory.
  homeOf = q:
    let
      m = match "~([^/]*)/(.*)" q;
      names = attrNames users;
      under = filter (u: hasPrefix (users.${u}.home.homeDirectory + "/") q) names;
    in
    if m != null then
      (let u = head m; in
       if u == "" then (if length names == 1 then { user = head names; rel = elemAt m 1; }
                        else { error = "${q} names no user: the host manages the homes of ${if names == [ ] then "no user" else concatStringsSep ", " names}"; candidates = map (n: "~${n}/" + elemAt m 1) names; what = "such files"; })
       else if users ? ${u} then { user = u; rel = elemAt m 1; }
       else { error = "the host manages no home of user '${u}'"; candidates = map (n: "~${n}/" + elemAt m 1) names; what = "users' files"; })
    else if under != [ ] then { user = head under; rel = removePrefix (users.${head under}.home.homeDirectory + "/") q; }
    else null;
  whyFile = q:
    if hasPrefix "/etc/" q then etcFile q (removePrefix "/etc/" q)
    else
      let h = homeOf q; in
      if h == null then noFile q " (flakectl manages files under /etc and the homes of home-manager.users)"
      else if h ? error then h
      else homeFile q h.user h.rel;

  # ---- units
  unitKinds = { service = "services"; timer = "timers"; socket = "sockets"; };
  allUnits = concatMap (k: map (n: "${n}.${k}") (attrNames config.systemd.${unitKinds.${k}})) (attrNames unitKinds);
  whyUnit = q: name: kind:
    let set = config.systemd.${unitKinds.${kind}}; base = [ "systemd" unitKinds.${kind} ]; in
    if set ? ${name} then
      let e = entryData base name; in {
        kind = "unit"; target = q; present = set.${name}.enable;
        inherit (e) entry options;
        producers = producersOf (show (base ++ [ name ])) (winningFiles (e.entry.defs ++ concatMap (o: o.defs) e.options));
      }
    else if offOnly base name then offResult "unit" q base name
    else { error = "no unit ${q}"; candidates = allUnits; what = "units"; };

  # ---- packages: every list of packages that holds one named q
  packageOptions = [ [ "environment" "systemPackages" ] ]
    ++ map (u: [ "home-manager" "users" u "home" "packages" ]) (attrNames users);
  holds = q: x: isList x.value && any (p: pkgName p == q) x.value;
  allPackages = unique (filter (n: n != null) (map pkgName (config.environment.systemPackages
    ++ concatMap (u: users.${u}.home.packages) (attrNames users))));
  whyPackage = q:
    let
      hits = filter (o: o.defs != [ ]) (map (p: leafData (holds q) (info p).leaf) packageOptions);
    in
    if hits == [ ] then null
    else {
      kind = "package"; target = q; present = any (o: any (d: d.active) o.defs) hits;
      entry = null; options = hits;
      producers = producersOf "" (winningFiles (concatMap (o: o.defs) hits));
    };

  # ---- options
  whyOption = q: path:
    let i = info path; in
    if i.found then {
      kind = "option"; target = q; present = true;
      entry = null; options = [ (leafData (x: true) i.leaf) ];
      producers = [ ];
    }
    else
      let children = if isAttrs i.at then filter (n: n != modules.leafTag) (attrNames i.at) else [ ]; in
      if i ? missing && i.missing != null then {
        error = "no option ${q}";
        candidates = let
            before = p: if p == [ ] || head p == i.missing then [ ] else [ (head p) ] ++ before (builtins.tail p);
          in map (c: show (before path ++ [ c ])) children;
        what = "options at that level";
      }
      else {
        error = "${q} is a group of options, not one option";
        candidates = map (c: show (path ++ [ c ])) children;
        what = "its options";
        group = true;
      };
in
{ query, path }:
let
  unit = match "([^/]+)\\.(service|timer|socket)" query;
  pkg = whyPackage query;
  tops = filter (n: n != modules.leafTag) (attrNames ev.tree);
in
if hasPrefix "/" query || hasPrefix "~" query then whyFile query
else if unit != null then whyUnit query (head unit) (elemAt unit 1)
else if match ".*\\..*" query == null && pkg != null then pkg
else if builtins.elem (head path) tops then whyOption query path
else {
  error = "'${query}' is no managed file (a path), unit (NAME.service), package or option";
  candidates = allPackages ++ allUnits ++ tops;
  what = "packages, units and top-level options";
}
