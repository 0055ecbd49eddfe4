# store_fetch.sh - pkgs.fetchurl and pkgs.installBinary against a local HTTP server (python's
# http.server on 127.0.0.1, started here, exiting on its own after a bounded time): the
# output path equals nix-instantiate's for the same <nix/fetchurl.nix> call (SRI, hex and
# base32 sha256, executable), a download lands verified and read-only, a wrong hash names
# both hashes and registers nothing, an unreachable server or a 404 is a clear error naming
# the URL, kill -9 in the middle of a download leaves nothing valid and the next build
# succeeds, file:// works, and installBinary puts the file into the profile's sw/bin.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state"
store="$work/state/store"

# serve DIR [RATE]: starts a server on DIR, sets $port
serve() {
  rm -f "$work/port"
  python3 "$FLAKECTL_SRC/tests/e2e/lib/httpserve.py" "$1" "$work/port" 300 ${2:-} &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  port=$(cat "$work/port")
}

mkdir -p "$work/www" "$work/slow" "$work/flake"
printf '#!/bin/sh\necho "tool from upstream $*"\n' > "$work/www/tool"
head -c $((3 * 1024 * 1024)) /dev/urandom > "$work/slow/big"
cp "$work/slow/big" "$work/www/big"
# sri FILE: the SRI form of FILE's SHA-256
sri() { python3 -c 'import sys, base64, hashlib; print("sha256-" + base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"; }
serve "$work/www"
fast=$port
url="http://127.0.0.1:$fast/tool"
hex=$(sha256sum "$work/www/tool" | cut -d' ' -f1)
sri=$(sri "$work/www/tool")

cat > "$work/flake/flake.nix" <<'NIX'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; modules = [ ./host.nix ]; }; }; }
NIX
cat > "$work/flake/host.nix" <<'NIX'
{ lib, pkgs, ... }:
let src = pkgs.fetchurl (import ./params.nix); in
{
  # an option outside the system, so only installBinary can keep the download alive
  options.test.fod = lib.mkOption { type = lib.types.str; };
  config.test.fod = "${src}";
  config.environment.systemPackages = [ (pkgs.installBinary { name = "tool"; inherit src; }) ];
}
NIX
# fod PARAMS: builds the host with params.nix = PARAMS (installBinary makes the download part
# of it); $out is the quoted output path (eval --host only names it, building is build's),
# $rc and $err the build's
fod() {
  printf '%s\n' "$1" > "$work/flake/params.nix"
  run_fl --flake "$work/flake" eval --host h test.fod
  [ "$rc" = 0 ] || return 0
  local named=$out
  run_fl --flake "$work/flake" build --host h --no-link
  out=$named
}
# same_as_nix WHAT: the path nix-instantiate gives for <nix/fetchurl.nix> with params.nix
same_as_nix() {
  have_nix || return 0
  local nixp
  nixp=$(cd "$work/flake" && NIX_STORE_DIR="$store" nixo nix-instantiate --eval \
    --strict -E '(import <nix/fetchurl.nix> (import ./params.nix)).outPath')
  expect_eq "$1: the path is nix-instantiate's" "$nixp" "$out"
}

# --- SRI hash over http://: fetched, verified, registered, read-only
fod "{ url = \"$url\"; hash = \"$sri\"; }"
[ "$rc" = 0 ] || echo "$err" >&2
expect_eq "fetch exit" 0 "$rc"
expect_contains "download announced" "downloading $url" "$err"
expect_contains "download finished" "downloaded $url ($(stat -c %s "$work/www/tool") bytes)" "$err"
path=$(eval echo "$out")
same_as_nix "SRI hash"
expect_contains "named after the URL's last component" "-tool" "$path"
expect_eq "content as served" "$(cat "$work/www/tool")" "$(cat "$path")"
expect_eq "read-only in the store" "444" "$(stat -c %a "$path")"
run_fl store query-valid "$path"
expect_eq "registered" "$path" "$out"
run_fl store path-info --json "$path"
expect_contains "no references" '"references": []' "$out"

# --- the same file declared with sha256 in hex and in Nix base32: the same path
fod "{ url = \"$url\"; sha256 = \"$hex\"; }"
expect_eq "hex exit" 0 "$rc"
expect_eq "hex sha256 gives the same path" "\"$path\"" "$out"
same_as_nix "hex sha256"
if have_nix; then
  b32=$(nixo nix-hash --type sha256 --to-base32 "$hex")
  fod "{ url = \"$url\"; sha256 = \"$b32\"; }"
  expect_eq "base32 sha256 gives the same path" "\"$path\"" "$out"
  same_as_nix "base32 sha256"
  # executable = true: hashed recursively (the NAR of an executable file), another path
  cp "$work/www/tool" "$work/exe" && chmod 0755 "$work/exe"
  nar=$(nixo nix-hash --type sha256 --base32 "$work/exe")
  fod "{ url = \"$url\"; sha256 = \"$nar\"; executable = true; name = \"tool-exe\"; }"
  [ "$rc" = 0 ] || echo "$err" >&2
  expect_eq "executable exit" 0 "$rc"
  same_as_nix "executable (recursive)"
  expect_eq "executable in the store" "555" "$(stat -c %a "$(eval echo "$out")")"
else
  echo "nix-instantiate missing: the differential checks against Nix were skipped" >&2
fi

# --- installBinary: bin/tool in the profile's sw/
printf '%s\n' "{ url = \"$url\"; hash = \"$sri\"; }" > "$work/flake/params.nix"
run_fl --flake "$work/flake" build --host h --out-link "$work/result"
[ "$rc" = 0 ] || echo "$err" >&2
expect_eq "build exit" 0 "$rc"
expect_eq "sw/bin/tool runs" "tool from upstream x" "$("$work/result/sw/bin/tool" x)"
expect_eq "installed executable" "555" "$(stat -c %a "$(readlink -f "$work/result/sw/bin/tool")")"
# the download is in the closure: gc keeps it, so an offline rebuild never fetches again
run_fl gc
expect_eq "gc exit" 0 "$rc"
run_fl store query-valid "$path"
expect_eq "the download survives gc" "$path" "$out"
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
run_fl --flake "$work/flake" build --host h --no-link
expect_eq "rebuild with the server gone" 0 "$rc"
serve "$work/www"
fast=$port
url="http://127.0.0.1:$fast/tool"

# --- a wrong hash: both hashes in SRI form and the URL; nothing registered
printf 'changed upstream\n' > "$work/www/other"
printf 'not the file' > "$work/notit"
bad=$(sri "$work/notit")
got=$(sri "$work/www/other")
fod "{ url = \"http://127.0.0.1:$fast/other\"; hash = \"$bad\"; }"
expect_eq "mismatch fails" 1 "$rc"
expect_contains "mismatch named" "hash mismatch in fixed-output derivation" "$err"
expect_contains "specified hash shown" "specified: $bad" "$err"
expect_contains "got hash shown" "got:       $got" "$err"
expect_contains "URL shown" "http://127.0.0.1:$fast/other" "$err"
expect_eq "nothing named other in the store" "" "$(ls "$store" | grep -- '-other$' || true)"
expect_eq "no temp dir left" "" "$(ls -A "$store" | grep '^\.tmp-' || true)"

# --- no hash, or one flakectl cannot check: refused before any download, saying what to write
fod "{ url = \"$url\"; name = \"nohash\"; }"
expect_eq "no hash fails" 1 "$rc"
expect_contains "no hash: what to write" "has no hash; add hash = \"sha256-...\"" "$err"
fod "{ url = \"$url\"; hash = \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"; name = \"sha512\"; }"
expect_eq "sha512 fails" 1 "$rc"
expect_contains "sha512: says sha256 only" "is not a sha256 hash flakectl can read" "$err"
expect_eq "nothing named nohash or sha512 in the store" "" "$(ls "$store" | grep -E -- '-(nohash|sha512)$' || true)"

# --- a 404 and a server that is not there: the URL in a clear error
fod "{ url = \"http://127.0.0.1:$fast/missing\"; hash = \"$sri\"; name = \"missing\"; }"
expect_eq "404 fails" 1 "$rc"
expect_contains "404 named" "cannot download http://127.0.0.1:$fast/missing: the server answered HTTP 404" "$err"
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fod "{ url = \"http://127.0.0.1:$dead/tool\"; hash = \"$sri\"; name = \"down\"; }"
expect_eq "server down fails" 1 "$rc"
expect_contains "server down names the URL" "cannot download http://127.0.0.1:$dead/tool:" "$err"
expect_contains "server down says why" "onnect" "$err"
expect_eq "nothing named down in the store" "" "$(ls "$store" | grep -- '-down$' || true)"
expect_contains "server down: the offline way out" "file://) with the same name and hash" "$err"
# ... which works: a copy fetched through file:// makes the path valid, then the
# unreachable URL is never asked
cp "$work/www/tool" "$work/copy-of-tool"
fod "{ url = \"file://$work/copy-of-tool\"; hash = \"$sri\"; name = \"down\"; }"
expect_eq "offline copy exit" 0 "$rc"
down=$out
fod "{ url = \"http://127.0.0.1:$dead/tool\"; hash = \"$sri\"; name = \"down\"; }"
expect_eq "the unreachable URL is not needed any more" 0 "$rc"
expect_eq "the same path as the copy's" "$down" "$out"

# --- urls: mirrors tried in order; when none answers, each is named with its reason
printf 'only on the third mirror\n' > "$work/www/mirrored"
fod "{ urls = [ \"http://127.0.0.1:$dead/mirrored\" \"http://127.0.0.1:$fast/missing\" \"http://127.0.0.1:$fast/mirrored\" ]; hash = \"$(sri "$work/www/mirrored")\"; }"
[ "$rc" = 0 ] || echo "$err" >&2
expect_eq "mirrors: the third answers" 0 "$rc"
expect_contains "mirrors: named after the first URL" "-mirrored" "$out"
expect_eq "mirrors: the content of the third" "only on the third mirror" "$(cat "$(eval echo "$out")")"
fod "{ urls = [ \"http://127.0.0.1:$dead/tool\" \"http://127.0.0.1:$fast/missing\" ]; hash = \"$sri\"; name = \"nomirror\"; }"
expect_eq "no mirror answers" 1 "$rc"
expect_contains "no mirror: how many" "cannot download any of the 2 URLs" "$err"
expect_contains "no mirror: the first and why" "cannot download http://127.0.0.1:$dead/tool:" "$err"
expect_contains "no mirror: the second and why" "http://127.0.0.1:$fast/missing: the server answered HTTP 404" "$err"
fod "{ url = \"$url\"; urls = [ \"$url\" ]; hash = \"$sri\"; }"
expect_eq "url and urls both" 1 "$rc"
expect_contains "url and urls both: what to do" "give either url or urls" "$err"

# --- file://
cp "$work/www/tool" "$work/local-tool"
fod "{ url = \"file://$work/local-tool\"; hash = \"$sri\"; name = \"tool\"; }"
expect_eq "file:// exit" 0 "$rc"
expect_eq "file:// gives the same path" "\"$path\"" "$out"

# --- a fixed-output derivation with a real builder: Nix's path, checked after the build
printf 'built\n' > "$work/built"
bhex=$(sha256sum "$work/built" | cut -d' ' -f1)
run_fl store build --name built --builder /bin/sh --arg -c --arg 'printf "built\n" > "$out"' \
  --env "outputHash=$bhex" --env outputHashAlgo=sha256 --env outputHashMode=flat
expect_eq "builder FOD exit" 0 "$rc"
expect_eq "builder FOD content" "built" "$(cat "$out")"
if have_nix; then
  nixp=$(NIX_STORE_DIR="$store" nixo nix-instantiate --eval --strict -E \
    "(derivation { name = \"built\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; outputHash = \"$bhex\"; outputHashAlgo = \"sha256\"; }).outPath")
  expect_eq "builder FOD path is nix-instantiate's" "$nixp" "\"$out\""
fi
run_fl store build --name built-wrong --builder /bin/sh --arg -c --arg 'printf "other\n" > "$out"' \
  --env "outputHash=$bhex" --env outputHashAlgo=sha256
expect_eq "builder FOD mismatch fails" 1 "$rc"
printf 'other\n' > "$work/other-built"
expect_contains "builder FOD mismatch: declared hash" "specified: $(sri "$work/built")" "$err"
expect_contains "builder FOD mismatch: built hash" "got:       $(sri "$work/other-built")" "$err"
expect_eq "builder FOD mismatch: nothing left" "" "$(ls "$store" | grep -- '-built-wrong$' || true)"

# --- kill -9 in the middle of a download (3 MiB at 300 KiB/s), then again
serve "$work/slow" $((300 * 1024))
slow=$port
bighex=$(sha256sum "$work/slow/big" | cut -d' ' -f1)
fetch_big() {
  exec "$FLAKECTL" store build --name big --builder builtin:fetchurl --env "url=http://127.0.0.1:$1/big" \
    --env "outputHash=$bighex" --env outputHashAlgo=sha256 --env outputHashMode=flat
}
(fetch_big "$slow") > /dev/null 2>&1 &
fpid=$!
partial=0
for _ in $(seq 1 100); do
  sz=$(stat -c %s "$store"/.tmp-*/x 2>/dev/null | head -1 || true)
  if [ -n "$sz" ] && [ "$sz" -gt 100000 ]; then partial=$sz; break; fi
  sleep 0.1
done
kill -9 "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
[ "$partial" -gt 0 ] || fail "the download was never seen in progress"
bigpath=$(ls "$store" | grep -- '-big$' || true)
expect_eq "killed download: no output path" "" "$bigpath"
# The next store command sweeps what the killed process left (its owner is gone), under the
# store lock, so verify finds a consistent store and no partial file remains.
run_fl store verify
expect_contains "killed download: nothing invalid registered" "store is consistent" "$out$err"
expect_eq "killed download: the partial file was swept" "" "$(ls -d "$store"/.tmp-* 2>/dev/null || true)"
big_out=$( (fetch_big "$fast") 2>"$work/e") || { cat "$work/e" >&2; fail "download after the kill failed"; }
cmp -s "$big_out" "$work/slow/big" || fail "download after the kill differs from the served file"
run_fl store verify --repair
run_fl store verify --check-contents
expect_eq "store verifies after the kill and the retry" 0 "$rc"
echo "store_fetch: ok"
