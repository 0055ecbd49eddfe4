# pkgs.nix - the package set modules receive as `pkgs`: native packages from flakectl's
# bundled index (src/pkg/index.tsv: `pkgs.ripgrep` is installed by the host's apt, dnf, pacman
# or Homebrew), `pkgs.native` for names the index lacks, and trivial store builders on top of
# `derivation`. Builders run /bin/sh with a cleared environment, so they call tools by
# absolute path and take their text through passAsFile (no argument-size limit).
{ lib, system }:
let
  sh = "/bin/sh";
  mkDrv = attrs: derivation ({ inherit system; builder = sh; } // attrs);
  managers = [ "apt" "dnf" "pacman" "brew" ];

  # ---- native packages (docs/packages.md)
  # Where the manager puts programs, so "${pkgs.curl}/bin/curl" and systemd's `path` work.
  nativePrefix =
    if lib.hasSuffix "-darwin" system then (if lib.hasPrefix "aarch64" system then "/opt/homebrew" else "/usr/local")
    else "/usr";
  # A name reaches the manager's command line: one word that cannot be read as an option.
  # Versions pass through in each manager's own syntax (apt "nodejs=18.19.0+dfsg-6~deb12u1",
  # brew "node@18", dnf "nodejs-18.19.0", pacman "nodejs>=18").
  validName = n: builtins.isString n && builtins.match "[A-Za-z0-9@+._:=~/<>-]+" n != null
    && builtins.substring 0 1 n != "-";
  mkNative = name: names: {
    _type = "nativePackage";
    inherit name;
    pname = name;
    native = names;
    outPath = nativePrefix;
  };
  native = spec:
    let
      usage = "pkgs.native takes one name (the same for every manager) or { apt = \"…\"; dnf = \"…\"; pacman = \"…\"; brew = \"…\"; }";
      checked = m: v:
        if v == null || validName v then v
        else throw "pkgs.native: ${m} = ${builtins.toJSON v} is not a package name (letters, digits and @+._:=~/<>-, not starting with -)";
    in
    if builtins.isString spec then
      mkNative spec (builtins.listToAttrs (map (m: { name = m; value = checked m spec; }) managers))
    else if builtins.isAttrs spec then
      let
        bad = builtins.filter (k: !(builtins.elem k (managers ++ [ "name" ]))) (builtins.attrNames spec);
        given = builtins.filter (m: spec ? ${m} && spec.${m} != null) managers;
      in
      if bad != [ ] then throw "pkgs.native: unknown key `${builtins.head bad}'; ${usage}"
      else if given == [ ] then throw "pkgs.native: no manager named; ${usage}"
      else mkNative (spec.name or spec.${builtins.head given})
        (builtins.listToAttrs (map (m: { name = m; value = checked m (spec.${m} or null); }) managers))
    else throw "pkgs.native: got ${builtins.typeOf spec}; ${usage}";

  # The index: tab-separated attribute, apt, dnf, pacman, brew; "=" the attribute itself, "-"
  # none. In the extracted bundle it sits at ../pkg/, in the source tree at ../../pkg/.
  indexFile = if builtins.pathExists ../pkg/index.tsv then ../pkg/index.tsv else ../../pkg/index.tsv;
  indexLines = builtins.filter (l: builtins.isString l && l != "" && builtins.substring 0 1 l != "#")
    (builtins.split "\n" (builtins.readFile indexFile));
  indexEntry = line:
    let
      f = builtins.filter builtins.isString (builtins.split "\t" line);
      name = builtins.head f;
      col = i: let v = builtins.elemAt f i; in if v == "=" then name else if v == "-" then null else v;
    in {
      inherit name;
      value = mkNative name { apt = col 1; dnf = col 2; pacman = col 3; brew = col 4; };
    };
  indexed = builtins.listToAttrs (map indexEntry indexLines);

  # `pkgs.ripgrp` and `with pkgs; [ ripgrp ]` read "no package 'ripgrp' in pkgs".
  label = builtins.__flakectlLabel or (noun: where: set: set);

  builders = rec {
    inherit system;

    writeTextFile = { name, text, executable ? false, destination ? "" }:
      mkDrv {
        inherit name text destination;
        passAsFile = [ "text" ];
        executable = if executable then "1" else "";
        args = [ "-c" ''
          target="$out$destination"
          /bin/mkdir -p "''${target%/*}"
          /bin/cp "$textPath" "$target"
          if [ -n "$executable" ]; then /bin/chmod 0555 "$target"; else /bin/chmod 0444 "$target"; fi
        '' ];
      };

    writeText = name: text: writeTextFile { inherit name text; };
    writeTextDir = path: text: writeTextFile { name = baseNameOf path; inherit text; destination = "/${path}"; };
    writeScript = name: text: writeTextFile { inherit name text; executable = true; };
    writeScriptBin = name: text: writeTextFile { inherit name text; executable = true; destination = "/bin/${name}"; };
    writeShellScript = name: text: writeTextFile {
      inherit name;
      executable = true;
      text = "#!/usr/bin/env bash\n${text}";
    };
    writeShellScriptBin = name: text: writeTextFile {
      inherit name;
      executable = true;
      destination = "/bin/${name}";
      text = "#!/usr/bin/env bash\n${text}";
    };

    # runCommand name { env... } script: the script runs with $out and the env; tools of
    # `nativeBuildInputs`/`buildInputs` are on PATH ahead of the system's /usr/bin:/bin.
    runCommand = name: env: script:
      let inputs = (env.nativeBuildInputs or [ ]) ++ (env.buildInputs or [ ]); in
      mkDrv (removeAttrs env [ "nativeBuildInputs" "buildInputs" ] // {
        inherit name;
        PATH = lib.concatStringsSep ":" (map (p: "${p}/bin") inputs ++ [ "/usr/bin" "/bin" ]);
        buildCommand = script;
        passAsFile = [ "buildCommand" ] ++ (env.passAsFile or [ ]);
        args = [ "-c" ". \"$buildCommandPath\"" ];
      });

    # symlinkJoin { name; paths; }: one tree of symlinks to every file of every path; the
    # first path providing a file wins.
    symlinkJoin = { name, paths, postBuild ? "" }:
      runCommand name { paths = lib.concatStringsSep " " (map toString paths); inherit postBuild; } ''
        link_tree() {
          for entry in "$1"/* "$1"/.[!.]*; do
            [ -e "$entry" ] || [ -L "$entry" ] || continue
            rel="$2/''${entry##*/}"
            if [ -d "$entry" ] && [ ! -L "$entry" ]; then
              mkdir -p "$out$rel"
              link_tree "$entry" "$rel"
            elif [ ! -e "$out$rel" ] && [ ! -L "$out$rel" ]; then
              ln -s "$entry" "$out$rel"
            fi
          done
        }
        mkdir -p "$out"
        for p in $paths; do link_tree "$p" ""; done
        eval "$postBuild"
      '';

    # fetchurl { url; hash = "sha256-..."; } (or sha256 = "<hex or base32>"): a download as a
    # fixed-output derivation, with the attributes of Nix's <nix/fetchurl.nix>, so its store
    # path follows from name and hash alone and equals Nix's. As in nixpkgs, `urls` instead of
    # `url` lists mirrors, tried in order. Downloaded (libcurl) when first needed, verified
    # before it is registered (docs/packages-upstream.md).
    fetchurl = args@{ url ? "", urls ? [ ], hash ? "", sha256 ? "", name ? null, executable ? false }:
      let
        # a download that fails is an error of the user's call, located at its url (or urls);
        # the derivation's attributes, and so its path, stay those of <nix/fetchurl.nix>
        at = (builtins.__flakectlAt or (pos: own: v: v))
          (builtins.unsafeGetAttrPos (if url != "" then "url" else "urls") args) __curPos.file;
        located = drv: let self = drv // { outPath = at drv.outPath; out = self; all = [ self ]; }; in self;
        all =
          if url != "" && urls == [ ] then [ url ]
          else if url == "" && urls != [ ] then urls
          else throw "pkgs.fetchurl: give either url or urls (a list of mirrors), not ${if url == "" then "neither" else "both"}";
        first = builtins.head all;
      in
      if hash == "" && sha256 == "" then
        throw "pkgs.fetchurl: ${first} has no hash; add hash = \"sha256-...\" (a download is only trusted with its hash; build once with a wrong one to be shown the right one)"
      else located (derivation {
        builder = "builtin:fetchurl";
        system = "builtin";
        name = if name == null then baseNameOf (toString first) else name;
        url = first;
        urls = all;
        inherit executable;
        unpack = false;
        outputHashMode = if executable then "recursive" else "flat";
        outputHash = if hash != "" then hash else sha256;
        outputHashAlgo = if hash != "" then "" else "sha256";
        preferLocalBuild = true;
        impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
      });

    # installBinary { name; src; version ? ""; }: the single file src (a fetchurl, any store
    # file) as the executable $out/bin/<name>, so it links into the profile's sw/bin.
    # nix-support/source names src, so the download stays in the closure: `gc` keeps it, and
    # rebuilding the host on an offline machine never has to fetch it again.
    installBinary = { name, src, version ? "" }:
      runCommand (if version == "" then name else "${name}-${version}") { inherit src; binName = name; } ''
        /bin/mkdir -p "$out/bin" "$out/nix-support"
        /bin/cp "$src" "$out/bin/$binName"
        /bin/chmod 0555 "$out/bin/$binName"
        echo "$src" > "$out/nix-support/source"
      '';
  };
in
label "package" "pkgs" (indexed // { inherit native; } // builders)
