#!/usr/bin/env bash
# lang_fetch_http.sh - builtins.fetchurl and builtins.fetchTarball over http:// from a real
# nginx (started here on 127.0.0.1 with its own config, stopped by the trap), against the live
# nix-instantiate 2.8 with the same store directory: the same store paths, the fetched
# content valid in flakectl's store (as nix adds it to its own), `import` of a fetched
# tarball, sha256 pinning (SRI and base-32) and Nix's hash-mismatch message with nothing
# added, a 404 naming the URL, and a host's module importing a pinned tarball (pure
# evaluation) during `flakectl build`.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
have_nix || { echo "skip: nix-bin (nix-instantiate 2.8, the oracle) is not installed"; exit 77; }
source "$(dirname "$0")/lib/nginx.bash"
nginx_work
state="$work/state"
fl() { "$FLAKECTL" --state-dir "$state" "$@"; }
# nix's side: the same logical store directory, its files and database under $work/nix
nix_side() {
    export NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$work/nix/var" NIX_LOG_DIR="$work/nix/log" \
        NIX_REMOTE="local?root=$work/nix"
}

mkdir -p srv pkg/sub
echo "hello fetch" > srv/hello.txt
printf '{ name = "from-tarball"; y = import ./sub/y.nix; }\n' > pkg/default.nix
echo '"why"' > pkg/sub/y.nix
tar -czf srv/pkg.tar.gz pkg
chmod -R a+rX srv
port=$(free_port)
nginx_start "$work" "$port" "    server { listen 127.0.0.1:$port; root $work/srv; }"
base="http://127.0.0.1:$port"

# 1. unpinned: the same paths as nix, valid in flakectl's store, import works
expr="[ (builtins.fetchurl \"$base/hello.txt\") (builtins.fetchTarball \"$base/pkg.tar.gz\")
        (import (builtins.fetchTarball \"$base/pkg.tar.gz\")) ]"
run_fl --state-dir "$state" eval --strict --expr "$expr"
expect_eq "eval exit" 0 "$rc"
nixout=$(nix_side; nixo nix-instantiate --eval --strict --expr "$expr")
expect_eq "the same values and store paths as nix-instantiate" "$nixout" "$out"
file=$(fl eval --expr "builtins.fetchurl \"$base/hello.txt\"" | tr -d '"')
tree=$(fl eval --expr "builtins.fetchTarball \"$base/pkg.tar.gz\"" | tr -d '"')
expect_eq "the fetched file is in the store" "hello fetch" "$(cat "$file")"
expect_eq "the unpacked tarball is in the store" '"why"' "$(cat "$tree/sub/y.nix")"
fl store path-info "$file" "$tree" > /dev/null || fail "the fetched paths are not valid in flakectl's store"
grep -q "GET /pkg.tar.gz HTTP/1.1\" 200" ngx/access.log || fail "nginx served no tarball"
echo "ok: fetchurl and fetchTarball over http, the same paths as nix's, valid in the store"

# 2. pinned: SRI for the file, base-32 NAR hash for the tarball
sri=$(python3 -c 'import base64, hashlib, sys; print("sha256-" + base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' srv/hello.txt)
narhash=$(nixo nix-hash --type sha256 --base32 pkg)
expr="[ (builtins.fetchurl { url = \"$base/hello.txt\"; sha256 = \"$sri\"; name = \"greeting\"; })
        (builtins.fetchTarball { url = \"$base/pkg.tar.gz\"; sha256 = \"$narhash\"; }) ]"
run_fl --state-dir "$state" eval --strict --expr "$expr"
expect_eq "pinned eval exit" 0 "$rc"
expect_eq "pinned: the same paths as nix-instantiate" "$(nix_side; nixo nix-instantiate --eval --strict --expr "$expr")" "$out"
expect_contains "pinned: the chosen name" "-greeting\"" "$out"
echo "ok: sha256 pins (SRI, base-32) give nix's paths"

# 3. a wrong hash: Nix's message, nothing added
before=$(ls "$state/store" | wc -l)
bad='sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
expr="builtins.fetchurl { url = \"$base/hello.txt\"; sha256 = \"$bad\"; name = \"wrong\"; }"
run_fl --state-dir "$state" eval --expr "$expr"
expect_eq "mismatch exit" 1 "$rc"
nixerr=$( (nix_side; nixo nix-instantiate --eval --expr "$expr") 2>&1 >/dev/null || true)
for line in "hash mismatch in file downloaded from '$base/hello.txt':" \
    "specified: sha256:0000000000000000000000000000000000000000000000000000" "got:       sha256:"; do
    expect_contains "nix's mismatch message" "$line" "$nixerr"
    expect_contains "flakectl's mismatch message" "$line" "$err"
done
expect_eq "nothing added on a mismatch" "$before" "$(ls "$state/store" | wc -l)"
run_fl --state-dir "$state" eval --expr "builtins.fetchurl \"$base/missing\""
expect_eq "404 exit" 1 "$rc"
expect_contains "a 404 names the URL" "unable to download '$base/missing'" "$err"
echo "ok: a wrong hash and a 404 are errors, nothing added"

# 4. a host's module imports a pinned tarball (pure evaluation) during a build
mkdir flake
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts.n1 = {
  system = "x86_64-linux"; platform = "nixos"; modules = [ ./n1.nix ];
}; }; }
EOF
cat > flake/n1.nix <<EOF
{ ... }: let pkg = import (builtins.fetchTarball { url = "$base/pkg.tar.gz"; sha256 = "$narhash"; });
in { networking.hostName = pkg.name; environment.etc."y".text = pkg.y; }
EOF
top=$("$FLAKECTL" --quiet --state-dir "$work/state2" --flake "$work/flake" build --no-link --host n1) ||
    fail "the host build with a fetched tarball failed"
expect_eq "the host's name from the tarball" "from-tarball" "$(cat "$top/etc/hostname")"
expect_eq "a file from the tarball" "why" "$(cat "$top/etc/y")"
fetched=$(grep -l '"why"' "$work"/state2/store/*-source/sub/y.nix 2>/dev/null | head -1)
[ -n "$fetched" ] || fail "the host build did not add the tarball to its store"
"$FLAKECTL" --state-dir "$work/state2" store path-info "${fetched%/sub/y.nix}" > /dev/null ||
    fail "the tarball in the host's store is not valid"
echo "ok: a host module imports a pinned tarball fetched over http"
