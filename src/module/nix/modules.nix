# modules.nix - evalModules: NixOS module semantics. Collects modules (imports, dedup by
# file), merges option declarations into a tree, and builds `config` as a lazy fixpoint
# where each option's value is the merge of its definitions by priority, order and type.
# Errors name the option and the user's definitions (file:line:col), never only this file.
lib:
let
  inherit (builtins) attrNames concatLists concatMap elem filter foldl' genList head
    isAttrs isFunction isList isPath isString length map mapAttrs sort tail typeOf
    unsafeGetAttrPos zipAttrsWith genericClosure listToAttrs functionArgs intersectAttrs
    stringLength substring elemAt;
  inherit (lib) concatStringsSep concatMapStringsSep optionalAttrs;

  leafTag = "__flakectlOption";

  # Raises an error located at a user's definition when the evaluator supports it.
  throwAt = builtins.__throwAt or (pos: msg:
    throw (if pos == null then msg else "${msg}\n       at ${showPos pos}"));
  showPos = pos: "${pos.file}:${toString pos.line}:${toString pos.column}";
  showDef = d: if d.pos != null then showPos d.pos else d.file;
  showPath = path: concatStringsSep "." (map (p: if builtins.match "[A-Za-z_][A-Za-z0-9_'-]*" p != null then p else "\"${p}\"") path);
  showValue = v:
    let t = typeOf v; in
    if t == "string" then "\"${v}\""
    else if t == "int" || t == "float" then toString v
    else if t == "bool" then (if v then "true" else "false")
    else if t == "null" then "null"
    else if t == "path" then toString v
    else if t == "list" then "a list"
    else if t == "set" then (if v ? outPath then "a package" else "a set")
    else "a ${t}";
  aType = v: let t = typeOf v; in
    if t == "set" then "a set" else if t == "int" then "an integer" else if t == "lambda" then "a function"
    else if t == "list" then "a list" else if t == "null" then "null" else "a ${t}";

  # ---- "did you mean": edit distance, only computed on the error path
  editDistance = a: b:
    let
      la = stringLength a; lb = stringLength b;
      ca = genList (i: substring i 1 a) la;
      cb = genList (i: substring i 1 b) lb;
      step = prev: i:
        let ai = elemAt ca i; in
        foldl' (row: j:
          let
            cost = if ai == elemAt cb j then 0 else 1;
            v = lib.min (lib.min (elemAt prev (j + 1) + 1) (lib.last row + 1)) (elemAt prev j + cost);
          in row ++ [ v ]) [ (i + 1) ] (genList (x: x) lb);
    in lib.last (foldl' step (genList (x: x) (lb + 1)) (genList (x: x) la));
  suggest = name: candidates:
    let
      scored = map (c: { inherit c; d = editDistance name c; }) candidates;
      limit = if stringLength name < 4 then 1 else if stringLength name < 8 then 2 else 3;
      good = sort (x: y: x.d < y.d) (filter (s: s.d <= limit) scored);
    in if good == [ ] then "" else "; did you mean '${(head good).c}'?";

  # ---- collecting modules
  # A module is a path, an attrset or a function; returns { imports; options; config; file; }.
  normalize = file: key: m:
    let
      knownTop = [ "imports" "options" "config" "_file" "key" "meta" "disabledModules" ];
      file' = m._file or file;
      structured = m ? config || m ? options;
      extra = filter (n: !(elem n knownTop)) (attrNames m);
    in
    if !isAttrs m then
      throw "module ${file} is ${aType m}, but a module must be an attribute set or a function returning one"
    else if structured && extra != [ ] then
      throwAt (unsafeGetAttrPos (head extra) m)
        "module ${file'} has both `config'/`options' and the top-level attribute `${head extra}'; move `${head extra}' under `config'"
    else {
      inherit key;
      file = file';
      imports = m.imports or [ ];
      options = m.options or { };
      config = if structured then m.config or { } else removeAttrs m knownTop;
    };

  applyModule = args: file: f:
    let fa = functionArgs f; in
    f (if fa == { } then args else intersectAttrs fa args);

  loadModule = args: parentFile: key: m:
    if isPath m || isString m then
      let file = toString m; imported = import m; in
      normalize file file (if isFunction imported then applyModule args file imported else imported)
    else if isFunction m then normalize parentFile key (applyModule args parentFile m)
    else normalize parentFile key m;

  collectModules = args: rootFile: modules:
    let
      keyOf = parentKey: i: m: if isPath m || isString m then toString m else "${parentKey}#${toString i}";
      start = lib.imap0 (i: m: { key = keyOf rootFile i m; module = m; parentFile = rootFile; }) modules;
      loaded = genericClosure {
        startSet = start;
        operator = item:
          let mod = loadModule args item.parentFile item.key item.module; in
          lib.imap0 (i: m: { key = keyOf item.key i m; module = m; parentFile = mod.file; }) mod.imports;
      };
    in map (item: loadModule args item.parentFile item.key item.module) loaded;

  # ---- option declarations: a tree whose leaves are { leafTag; decl; file; path; }
  mergeDecls = path: decls:
    let
      leaves = filter (d: lib.isOption d.options) decls;
      groups = filter (d: !(lib.isOption d.options)) decls;
      d0 = head leaves;
    in
    if leaves != [ ] then
      if length leaves > 1 then
        throwAt (d0.pos) "the option `${showPath path}' is declared more than once: in ${concatMapStringsSep " and " (d: d.file) leaves}"
      else if groups != [ ] then
        throw "the option `${showPath path}' declared in ${d0.file} is also used as a group of options in ${(head groups).file}"
      else { ${leafTag} = true; decl = d0.options; file = d0.file; pos = d0.pos; inherit path; }
    else
      zipAttrsWith (n: ds: mergeDecls (path ++ [ n ]) ds)
        (map (d:
          if !isAttrs d.options then
            throwAt d.pos "`options.${showPath path}' in ${d.file} must be an attribute set of options (made with lib.mkOption), not ${aType d.options}"
          else mapAttrs (n: v: { file = d.file; pos = unsafeGetAttrPos n d.options; options = v; }) d.options) groups);

  isLeaf = node: node ? ${leafTag};

  # ---- definitions
  # Pushes mkIf/mkMerge/mkOverride/mkOrder at a group of options down to its attributes.
  pushDown = path: d:
    let v = d.value; t = v._type or null; in
    if isAttrs v && t == "merge" then
      concatMap (c: pushDown path (d // { value = c; })) v.contents
    else if isAttrs v && t == "if" then
      map (p: p // { wrap = x: lib.mkIf v.condition (p.wrap x); }) (pushDown path (d // { value = v.content; }))
    else if isAttrs v && t == "override" then
      map (p: p // { wrap = x: lib.mkOverride v.priority (p.wrap x); }) (pushDown path (d // { value = v.content; }))
    else if isAttrs v && t == "order" then
      map (p: p // { wrap = x: lib.mkOrder v.priority (p.wrap x); }) (pushDown path (d // { value = v.content; }))
    else if isAttrs v then [ { inherit (d) file; attrs = v; wrap = x: x; } ]
    else throwAt d.pos
      "`${showPath path}' is a group of options, but ${showDef d} defines it as ${aType v}";

  # Removes mkIf/mkMerge and records priority and order: [ { file; pos; value; priority; order; } ].
  discharge = path: prio: order: d:
    let v = d.value; t = v._type or null; in
    if isAttrs v && t == "merge" then
      if !isList v.contents then throwAt d.pos "mkMerge needs a list (in the definition of `${showPath path}' at ${showDef d})"
      else concatMap (c: discharge path prio order (d // { value = c; })) v.contents
    else if isAttrs v && t == "if" then
      (if builtins.isBool v.condition then
         (if v.condition then discharge path prio order (d // { value = v.content; }) else [ ])
       else throwAt d.pos "mkIf's condition in the definition of `${showPath path}' at ${showDef d} is ${aType v.condition}, not a Boolean")
    else if isAttrs v && t == "override" then
      discharge path (if prio == null then v.priority else prio) order (d // { value = v.content; })
    else if isAttrs v && t == "order" then
      discharge path prio (if order == null then v.priority else order) (d // { value = v.content; })
    else [ (d // { priority = if prio == null then 100 else prio; order = if order == null then 1000 else order; }) ];

  # The definitions that count: the highest priority (lowest number), sorted by mkOrder.
  activeDefs = builtins.__flakectlActiveDefs or activeDefsNix;
  activeDefsNix = path: defs:
    let
      flat = concatMap (discharge path null null) defs;
      best = foldl' (m: d: if d.priority < m then d.priority else m) 100000 flat;
    in sort (a: b: a.order < b.order) (filter (d: d.priority == best) flat);

  conflict = path: defs:
    throwAt (head defs).pos
      "the option `${showPath path}' has conflicting definitions:\n${concatMapStringsSep "\n" (d: "         - ${showValue d.value} at ${showDef d}") defs}\n       give one of them a higher priority with lib.mkForce, or lib.mkDefault on the other";

  typeError = path: type: d:
    throwAt d.pos
      "the option `${showPath path}' is of type ${type.description}, but ${showDef d} defines it as ${aType d.value}: ${showValue d.value}${if (type.explain or null) != null then "\n       " + type.explain else ""}";

  checked = path: type: defs:
    map (d: if type.check d.value then d else typeError path type d) defs;

  # Merges definitions (already filtered by priority) according to the type.
  mergeValue = args: path: type: defs:
    let
      m = type.merge;
      nested = type.nested;
    in
    if m == "list" then
      concatLists (lib.imap0 (i: d:
        lib.imap0 (j: x: mergeValue args (path ++ [ "[${toString j}]" ]) nested.elemType [ (d // { value = x; }) ]) d.value)
        (checked path type defs))
    else if m == "attrsOf" then
      let
        keyError = d: k:
          let kd = d // { pos = unsafeGetAttrPos k d.value; value = k; }; in
          throwAt kd.pos "the name ${showValue k} under `${showPath path}' is not a valid ${nested.keyType.description} (defined in ${showDef kd})";
        perKey = zipAttrsWith (k: ds: ds) (map (d:
          mapAttrs (k: v:
            if nested ? keyType && !(nested.keyType.check k) then keyError d k
            else { inherit (d) file; pos = unsafeGetAttrPos k d.value; value = v; }) d.value)
          (checked path type defs));
        merged = mapAttrs (k: ds:
          let active = activeDefs (path ++ [ k ]) ds; in
          if active == [ ] then null else { value = mergeValue (args // { name = k; }) (path ++ [ k ]) nested.elemType active; })
          perKey;
      in mapAttrs (k: r: r.value) (lib.filterAttrs (k: r: r != null) merged)
    else if m == "submodule" then
      (evalModulesAt {
        inherit path;
        # Each definition is itself a module (it may have imports, options, config).
        modules = nested.modules ++ map (d: { _file = d.file; imports = [ d.value ]; }) defs;
        args = args;
      }).config
    else if m == "nullOr" then
      let nulls = filter (d: d.value == null) defs; in
      if length nulls == length defs then null
      else if nulls != [ ] then conflict path defs
      else mergeValue args path nested.elemType defs
    else if m == "either" then
      if lib.all (d: nested.left.check d.value) defs then mergeValue args path nested.left defs
      else if lib.all (d: nested.right.check d.value) defs then mergeValue args path nested.right defs
      else typeError path type (head (filter (d: !(nested.left.check d.value) && !(nested.right.check d.value)) defs ++ defs))
    else if m == "coercedTo" then
      mergeValue args path nested.to (map (d:
        if nested.to.check d.value then d
        else if nested.from.check d.value then d // { value = nested.coerce d.value; }
        else typeError path type d) defs)
    else if m == "lines" then concatMapStringsSep "\n" (d: d.value) (checked path type defs)
    else if m == "commas" then concatMapStringsSep "," (d: d.value) (checked path type defs)
    else if m == "attrs" then foldl' (acc: d: acc // d.value) { } (checked path type defs)
    else if m == "anything" then
      if lib.all (d: isAttrs d.value && !(d.value ? outPath)) defs then
        mergeValue args path (lib.types.attrsOf lib.types.anything) defs
      else if lib.all (d: isList d.value) defs then concatMap (d: d.value) defs
      else if lib.all (d: d.value == (head defs).value) defs then (head defs).value
      else conflict path defs
    else if m == "unique" then
      let ds = checked path type defs; in
      if length ds == 1 then (head ds).value else conflict path ds
    else
      let ds = checked path type defs; first = (head ds).value; in
      if lib.all (d: d.value == first) ds then first else conflict path ds;

  # The value of one option: definitions by priority, the default as a definition of
  # priority 1500 (mkOptionDefault), merged by the type.
  mergeOption = args: leaf: defs:
    let
      decl = leaf.decl;
      withDefault = defs ++ lib.optional (decl ? default) {
        file = leaf.file; pos = leaf.pos; value = lib.mkOptionDefault decl.default;
      };
      active = activeDefs leaf.path withDefault;
    in
    if active == [ ] then
      throwAt leaf.pos "the option `${showPath leaf.path}' is used but not defined; define it in a module, or give it a default"
    else mergeValue args leaf.path decl.type active;

  # One level of config: every declared option/group below `node`, with the definitions of
  # each. Returns a tree mirroring the declarations whose leaves carry decl, defs and value.
  evalLevel = args: path: node: defs:
    let
      pushed = concatMap (pushDown path) defs;
      childDefs = zipAttrsWith (n: ds: ds) (map (p:
        mapAttrs (n: v: { inherit (p) file; pos = unsafeGetAttrPos n p.attrs; value = p.wrap v; }) p.attrs) pushed);
      undeclared = filter (n: !(node ? ${n})) (attrNames childDefs);
      bad = head undeclared;
      badDef = head childDefs.${bad};
      known = filter (n: n != leafTag) (attrNames node);
    in
    if undeclared != [ ] then
      throwAt badDef.pos
        "the option `${showPath (path ++ [ bad ])}' does not exist (defined at ${showDef badDef})${suggest bad known}"
    else mapAttrs (n: child:
      let cdefs = childDefs.${n} or [ ]; in
      if isLeaf child then { ${leafTag} = true; inherit (child) decl file pos path; defs = cdefs; value = mergeOption args child cdefs; }
      else evalLevel args (path ++ [ n ]) child cdefs) node;

  stripLevel = tree: mapAttrs (n: v: if isLeaf v then v.value else stripLevel v) tree;

  # The engine: flakectl's native one (src/module/evalmodules.c) when it is there; this file's
  # own implementation otherwise (under nix-instantiate, where the two are compared).
  native = builtins.__flakectlEvalModules or null;
  nativeHelpers = {
    inherit lib;
    import = p: import p;
    apply = args: f: applyModule args "" f;
    eq = a: b: a == b;
    concatSep = concatStringsSep;
    inherit (lib) mkIf mkOverride mkOrder;
    attrsOfAnything = lib.types.attrsOf lib.types.anything;
  };
  evalModulesAt = if native != null then
      { modules, args, path ? [ ], rootFile ? "<flake>" }:
        native nativeHelpers { inherit modules args path rootFile; }
    else evalModulesAtNix;

  evalModulesAtNix = { modules, args, path ? [ ], rootFile ? "<flake>" }:
    let
      allArgs = args // { inherit config options lib; };
      collected = collectModules allArgs rootFile modules;
      options = mergeDecls path (map (m: { inherit (m) file; pos = null; options = m.options; }) collected);
      tree = evalLevel args path options (map (m: { inherit (m) file; pos = null; value = m.config; }) collected);
      config = stripLevel tree;
    in { inherit config options tree; modules = collected; };

  # Looks an option up by path in an evaluation, descending into attrsOf/submodules.
  optionInfo = ev: path:
    let
      go = tree: rest:
        if rest == [ ] then { found = false; at = tree; }
        else
          let n = head rest; in
          if !(tree ? ${n}) then { found = false; at = tree; missing = n; }
          else if isLeaf tree.${n} then
            (if tail rest == [ ] then { found = true; leaf = tree.${n}; } else descend tree.${n} (tail rest))
          else go tree.${n} (tail rest);
      descend = leaf: rest:
        let
          t = leaf.decl.type;
          key = head rest;
          sub = if t.merge == "attrsOf" && t.nested.elemType.merge == "submodule" then
              let
                defs = concatMap (d: if isAttrs d.value && d.value ? ${key} then [ (d // { value = d.value.${key}; pos = unsafeGetAttrPos key d.value; }) ] else [ ])
                  (activeDefs leaf.path leaf.defs);
              in { ok = true; rest = tail rest; type = t.nested.elemType; defs = activeDefs (leaf.path ++ [ key ]) defs; p = leaf.path ++ [ key ]; name = key; }
            else if t.merge == "submodule" then { ok = true; inherit rest; type = t; defs = activeDefs leaf.path leaf.defs; p = leaf.path; name = lib.last leaf.path; }
            else { ok = false; };
          subEv = evalModulesAt {
            path = sub.p;
            modules = sub.type.nested.modules ++ map (d: { _file = d.file; imports = [ d.value ]; }) sub.defs;
            args = ev.args // { name = sub.name; };
          };
        in if !sub.ok then { found = false; at = { }; } else go subEv.tree sub.rest;
    in go ev.tree path;

in
{
  inherit evalModulesAt optionInfo showPath showPos showDef suggest leafTag isLeaf activeDefs editDistance throwAt;
  evalModules = { modules, args, rootFile ? "<flake>" }:
    let ev = evalModulesAt { inherit modules args rootFile; }; in ev // { inherit args; };
}
