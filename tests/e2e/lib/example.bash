# example.bash - a private, offline-ready copy of the bundled example (sourced by tests).
# example_copy DIR: copies the example's flake into DIR and points homelab.k3s.package at a
# stand-in script fetched through file://. The example's k3s module downloads the pinned
# upstream k3s release, which a machine without network access (CI, these tests) cannot
# reach; the stand-in goes through the same pkgs.fetchurl + installBinary path with its own
# hash, so everything else about the example is what users get.
example_copy() {
  local d=$1 sha
  mkdir -p "$d"
  cp -r "$FLAKECTL_SRC/flake.nix" "$FLAKECTL_SRC/hosts" "$FLAKECTL_SRC/modules" \
    "$FLAKECTL_SRC/home" "$FLAKECTL_SRC/secrets" "$d/"
  printf '#!/bin/sh\necho "k3s stand-in $*"\n' > "$d/k3s-standin"
  sha=$(sha256sum "$d/k3s-standin" | cut -d' ' -f1)
  cat > "$d/modules/server/k3s-standin.nix" <<NIX
{ pkgs, ... }: {
  homelab.k3s.package = pkgs.installBinary {
    name = "k3s";
    src = pkgs.fetchurl { url = "file://$d/k3s-standin"; sha256 = "$sha"; };
  };
}
NIX
  sed -i 's|imports = \[ ./k3s.nix|imports = [ ./k3s-standin.nix ./k3s.nix|' "$d/modules/server/default.nix"
  grep -q k3s-standin.nix "$d/modules/server/default.nix" || {
    echo "example_copy: could not add the k3s stand-in to modules/server/default.nix" >&2
    return 1
  }
}
