# pkgs.nix - the small package set modules receive as `pkgs`: trivial builders on top of
# `derivation`. Builders run /bin/sh with a cleared environment, so they call tools by
# absolute path and take their text through passAsFile (no argument-size limit).
{ lib, system }:
let
  sh = "/bin/sh";
  mkDrv = attrs: derivation ({ inherit system; builder = sh; } // attrs);
in
rec {
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
  fetchurl = { url ? "", urls ? [ ], hash ? "", sha256 ? "", name ? null, executable ? false }:
    let
      all =
        if url != "" && urls == [ ] then [ url ]
        else if url == "" && urls != [ ] then urls
        else throw "pkgs.fetchurl: give either url or urls (a list of mirrors), not ${if url == "" then "neither" else "both"}";
      first = builtins.head all;
    in
    if hash == "" && sha256 == "" then
      throw "pkgs.fetchurl: ${first} has no hash; add hash = \"sha256-...\" (a download is only trusted with its hash; build once with a wrong one to be shown the right one)"
    else derivation {
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
    };

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
}
