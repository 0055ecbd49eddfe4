# lib.nix - the `lib` that modules receive: list/attrset/string helpers users reach for, and
# the module vocabulary (mkOption, types, mkIf, mkMerge, priorities, ordering). Properties are
# plain tagged attrsets (`_type`), interpreted by modules.nix.
let
  b = builtins;
  lib = rec {
    inherit (b) attrNames attrValues hasAttr getAttr head tail length elem elemAt filter map
      foldl' concatLists concatMap concatStringsSep listToAttrs mapAttrs removeAttrs
      intersectAttrs catAttrs genList sort isAttrs isList isString isInt isBool isFunction
      isFloat isPath toJSON fromJSON replaceStrings substring stringLength typeOf split match
      toString trace seq deepSeq tryEval throw abort functionArgs zipAttrsWith groupBy partition
      all any baseNameOf dirOf pathExists readFile readDir;

    # ---- trivial
    id = x: x;
    const = x: _: x;
    flip = f: a: b': f b' a;
    pipe = x: fs: foldl' (acc: f: f acc) x fs;
    boolToString = x: if x then "true" else "false";
    max = a: b': if a > b' then a else b';
    min = a: b': if a < b' then a else b';
    mod = a: b': a - (a / b') * b';

    # ---- lists
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    singleton = x: [ x ];
    toList = x: if isList x then x else [ x ];
    flatten = x: if isList x then concatMap flatten x else [ x ];
    foldl = op: nul: list: foldl' op nul list;
    foldr = op: nul: list:
      let len = length list;
          go = n: if n == len then nul else op (elemAt list n) (go (n + 1));
      in go 0;
    imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
    imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);
    range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);
    unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
    last = list: elemAt list (length list - 1);
    init = list: genList (elemAt list) (length list - 1);
    take = count: list: genList (elemAt list) (min count (length list));
    drop = count: list:
      let n = length list - count;
      in if n <= 0 then [ ] else genList (i: elemAt list (i + count)) n;
    reverseList = xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l;
    count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;
    findFirst = pred: default: list:
      let found = filter pred list; in if found == [ ] then default else head found;
    subtractLists = e: filter (x: !(elem x e));
    intersectLists = e: filter (x: elem x e);
    zipListsWith = f: fst: snd:
      genList (n: f (elemAt fst n) (elemAt snd n)) (min (length fst) (length snd));

    # ---- attrsets
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: listToAttrs (map (attr: f attr set.${attr}) (attrNames set));
    mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
    attrsToList = mapAttrsToList nameValuePair;
    filterAttrs = pred: set:
      listToAttrs (concatMap (name: let v = set.${name}; in if pred name v then [ (nameValuePair name v) ] else [ ]) (attrNames set));
    genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
    optionalAttrs = cond: as: if cond then as else { };
    attrByPath = attrPath: default: e:
      if attrPath == [ ] then e
      else let attr = head attrPath; in
        if isAttrs e && e ? ${attr} then attrByPath (tail attrPath) default e.${attr} else default;
    hasAttrByPath = attrPath: e:
      if attrPath == [ ] then true
      else let attr = head attrPath; in isAttrs e && e ? ${attr} && hasAttrByPath (tail attrPath) e.${attr};
    getAttrFromPath = attrPath: set:
      attrByPath attrPath (throw "cannot find attribute `${concatStringsSep "." attrPath}'") set;
    setAttrByPath = attrPath: value:
      if attrPath == [ ] then value
      else { ${head attrPath} = setAttrByPath (tail attrPath) value; };
    recursiveUpdateUntil = pred: lhs: rhs:
      let f = attrPath: zipAttrsWith (n: values:
        let here = attrPath ++ [ n ]; in
        if length values == 1 || pred here (elemAt values 1) (head values)
        then head values
        else f here values);
      in f [ ] [ rhs lhs ];
    recursiveUpdate = recursiveUpdateUntil (path: lhs: rhs: !(isAttrs lhs && isAttrs rhs));
    foldAttrs = op: nul: list_of_attrs:
      foldr (n: a: foldr (name: o: o // { ${name} = op n.${name} (a.${name} or nul); }) a (attrNames n)) { } list_of_attrs;
    collect = pred: attrs:
      if pred attrs then [ attrs ]
      else if isAttrs attrs then concatMap (collect pred) (attrValues attrs)
      else [ ];
    mapAttrsRecursive = f: set:
      let recurse = path: s: mapAttrs (name: value:
        if isAttrs value then recurse (path ++ [ name ]) value else f (path ++ [ name ]) value) s;
      in recurse [ ] set;
    isDerivation = x: isAttrs x && x ? type && x.type == "derivation";

    # ---- strings
    concatStrings = concatStringsSep "";
    concatMapStrings = f: list: concatStrings (map f list);
    concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
    concatImapStringsSep = sep: f: list: concatStringsSep sep (imap1 f list);
    concatLines = list: concatMapStrings (s: s + "\n") list;
    optionalString = cond: string: if cond then string else "";
    hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
    hasSuffix = suffix: content:
      let lenContent = stringLength content; lenSuffix = stringLength suffix;
      in lenContent >= lenSuffix && substring (lenContent - lenSuffix) lenContent content == suffix;
    hasInfix = infix: content: match ".*${escapeRegex infix}.*" content != null;
    removePrefix = prefix: str:
      if hasPrefix prefix str then substring (stringLength prefix) (stringLength str) str else str;
    removeSuffix = suffix: str:
      if hasSuffix suffix str then substring 0 (stringLength str - stringLength suffix) str else str;
    stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);
    escapeRegex = replaceStrings
      [ "\\" "[" "]" "{" "}" "(" ")" "." "*" "+" "?" "^" "$" "|" ]
      [ "\\\\" "\\[" "\\]" "\\{" "\\}" "\\(" "\\)" "\\." "\\*" "\\+" "\\?" "\\^" "\\$" "\\|" ];
    splitString = sep: s: filter isString (split (escapeRegex sep) s);
    upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
    toUpper = replaceStrings lowerChars upperChars;
    toLower = replaceStrings upperChars lowerChars;
    strings = { inherit concatStrings hasPrefix hasSuffix splitString toUpper toLower; };
    escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
    escapeShellArgs = concatMapStringsSep " " escapeShellArg;
    fileContents = file: removeSuffix "\n" (readFile file);
    versionOlder = v1: v2: b.compareVersions v2 v1 == 1;
    versionAtLeast = v1: v2: !(versionOlder v1 v2);

    # ---- the module vocabulary
    mkOption = { type ? types.anything, default ? null, defaultText ? null, example ? null,
                 description ? "", internal ? false, visible ? true, readOnly ? false, ... }@attrs:
      attrs // { _type = "option"; inherit type description; } // optionalAttrs (attrs ? default) { inherit default; };
    mkEnableOption = name: mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${name}.";
    };
    isOption = x: isAttrs x && x ? _type && x._type == "option";
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkOptionDefault = mkOverride 1500;
    mkDefault = mkOverride 1000;
    mkImageMediaOverride = mkOverride 60;
    mkForce = mkOverride 50;
    mkVMOverride = mkOverride 10;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    defaultOrderPriority = 1000;
    literalExpression = text: { _type = "literalExpression"; inherit text; };

    # Types are attrsets with a name (shown in errors), a check, and a merge kind that
    # modules.nix implements. `functor` keeps the nested types for submodules and containers.
    types = rec {
      # explain: said after a type error (what to write instead), or null.
      mkType = { name, description ? name, check ? (_: true), merge ? "equal", nested ? { }, explain ? null }:
        { _type = "type"; inherit name description check merge nested explain; };
      anything = mkType { name = "anything"; merge = "anything"; };
      unspecified = anything // { name = "unspecified"; description = "unspecified value"; };
      raw = mkType { name = "raw"; merge = "unique"; };
      bool = mkType { name = "bool"; description = "boolean"; check = isBool; };
      int = mkType { name = "int"; description = "signed integer"; check = isInt; };
      ints = {
        unsigned = mkType { name = "unsignedInt"; description = "unsigned integer"; check = x: isInt x && x >= 0; };
        positive = mkType { name = "positiveInt"; description = "positive integer"; check = x: isInt x && x > 0; };
        between = lo: hi: mkType {
          name = "intBetween";
          description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
          check = x: isInt x && x >= lo && x <= hi;
        };
      };
      port = mkType { name = "port"; description = "16 bit unsigned integer"; check = x: isInt x && x >= 0 && x <= 65535; };
      float = mkType { name = "float"; description = "floating point number"; check = isFloat; };
      number = mkType { name = "number"; description = "signed integer or floating point number"; check = x: isInt x || isFloat x; };
      str = mkType { name = "str"; description = "string"; check = isString; };
      nonEmptyStr = mkType { name = "nonEmptyStr"; description = "non-empty string"; check = x: isString x && match "[ \t\n]*" x == null; };
      lines = mkType { name = "lines"; description = "strings concatenated with \"\\n\""; check = isString; merge = "lines"; };
      commas = mkType { name = "commas"; description = "strings concatenated with \",\""; check = isString; merge = "commas"; };
      # Account fields as shadow-utils accepts them: useradd's default NAME_REGEX for names,
      # no field separator or line break in any field of passwd, shadow or group, and ids
      # other than (uid_t)-1 and the 16-bit -1 that old tools return for "no id". The engine
      # checks these natively (a NUL or invalid UTF-8 is seen there only); these checks are
      # what the reference engine runs.
      passwdName = mkType {
        name = "passwdName";
        description = "account name (a-z, 0-9, _ and -, not starting with - or a digit, an optional final $, at most 32 characters)";
        check = x: isString x && stringLength x <= 32 && match "[a-z_][a-z0-9_-]*[$]?" x != null;
      };
      passwdEntry = elemType: elemType // {
        name = "passwdEntry";
        description = "${elemType.description} without colons or newlines";
        check = x: elemType.check x && match "[^:\n]*" x != null;
      };
      accountId = mkType {
        name = "accountId";
        description = "account id (0 to 4294967294, not 65535)";
        check = x: isInt x && x >= 0 && x <= 4294967294 && x != 65535;
      };
      singleLine = mkType {
        name = "singleLine";
        description = "string without newlines";
        check = x: isString x && match "[^\n\r]*" x != null;
      };
      # A file name under /etc: non-empty; the engine also refuses invalid UTF-8 and NUL.
      etcName = mkType {
        name = "etcName";
        description = "file name (non-empty UTF-8)";
        check = x: isString x && x != "";
      };
      # attrsOf whose attribute names must pass keyType's check: an account named by its key
      # is refused at the user's key, not at the bundled default that copies the key.
      attrsNamed = keyType: elemType: attrsOf elemType // {
        nested = { inherit elemType keyType; };
      };
      path = mkType {
        name = "path";
        description = "path";
        check = x: isPath x || (isString x && substring 0 1 x == "/") || (isAttrs x && x ? outPath);
      };
      # A store package (a derivation, a path copied to the store, a store path string) or a
      # native package (pkgs.<name>, pkgs.native): a plain "/usr/bin/git" names no package.
      package = mkType {
        name = "package";
        description = "package";
        check = x: isDerivation x || isPath x || (isAttrs x && x ? outPath)
          || (isString x && (b.hasContext x || match "/.*/store/[0-9a-z]{32}-[^/]+(/.*)?" x != null));
        merge = "unique";
        explain = ''a package is pkgs.<name> (flakectl's package index, e.g. pkgs.git), pkgs.native { apt = "…"; dnf = "…"; pacman = "…"; brew = "…"; } (or pkgs.native "name") for a name the index lacks, or a store path such as pkgs.writeShellScriptBin "name" "…"; a program the machine already has needs no entry'';
      };
      attrs = mkType { name = "attrs"; description = "attribute set"; check = isAttrs; merge = "attrs"; };
      enum = values: mkType {
        name = "enum";
        description = "one of ${concatMapStringsSep ", " (v: if isString v then "\"${v}\"" else toString v) values}";
        check = x: elem x values;
      };
      listOf = elemType: mkType {
        name = "listOf";
        description = "list of ${elemType.description}";
        check = isList;
        merge = "list";
        nested = { inherit elemType; };
      };
      nonEmptyListOf = elemType: listOf elemType // { name = "nonEmptyListOf"; check = l: isList l && l != [ ]; };
      attrsOf = elemType: mkType {
        name = "attrsOf";
        description = "attribute set of ${elemType.description}";
        check = isAttrs;
        merge = "attrsOf";
        nested = { inherit elemType; };
      };
      lazyAttrsOf = attrsOf;
      nullOr = elemType: mkType {
        name = "nullOr";
        description = "null or ${elemType.description}";
        check = x: x == null || elemType.check x;
        merge = "nullOr";
        nested = { inherit elemType; };
      };
      either = t1: t2: mkType {
        name = "either";
        description = "${t1.description} or ${t2.description}";
        check = x: t1.check x || t2.check x;
        merge = "either";
        nested = { left = t1; right = t2; };
      };
      oneOf = ts:
        if ts == [ ] then throw "types.oneOf needs at least one type"
        else foldl' either (head ts) (tail ts) // {
          description = concatMapStringsSep " or " (t: t.description) ts;
        };
      coercedTo = from: f: to: mkType {
        name = "coercedTo";
        description = "${to.description} or ${from.description} convertible to it";
        check = x: to.check x || from.check x;
        merge = "coercedTo";
        nested = { inherit from to; coerce = f; };
      };
      submodule = module: submoduleWith { modules = toList module; };
      submoduleWith = { modules, ... }: mkType {
        name = "submodule";
        description = "submodule";
        check = x: isAttrs x || isFunction x || isPath x;
        merge = "submodule";
        nested = { inherit modules; };
      };
      functionTo = elemType: mkType {
        name = "functionTo";
        description = "function that evaluates to a(n) ${elemType.description}";
        check = isFunction;
        merge = "unique";
      };
    };
  };
in
lib
