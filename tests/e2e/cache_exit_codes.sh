#!/usr/bin/env bash
# cache_exit_codes.sh - the exit status of cache errors follows docs/exit-codes.md: 2 only for
# a bad command line (a malformed URL given there), 1 for everything that is not one: a
# malformed cache URL in a host's store.substituters, a cache that cannot be reached, a
# cache whose files are not what they must be, a key file that holds no key.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
state="$work/state"
export FLAKECTL_STATE_DIR="$state"
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'x\n' >file
run_fl store add --name x file
expect_eq "store add" 0 "$rc"
p=$out

# --- a malformed URL: on the command line a usage error, in the configuration not
mkdir fl
cat >fl/flake.nix <<'NIX'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; }; }; }
NIX
echo '{ ... }: { store.substituters = [ "file://relative" ]; }' >fl/host.nix
run_fl --flake fl build --host h --no-link
expect_eq "a bad URL in store.substituters: exit 1" 1 "$rc"
expect_contains "a bad URL in store.substituters: which" "cache URL 'file://relative'" "$err"
expect_contains "a bad URL in store.substituters: where" "in the host's store.substituters" "$err"
echo '{ ... }: { }' >fl/host.nix
run_fl --flake fl --substituters file://relative build --host h --no-link
expect_eq "a bad --substituters URL: exit 2" 2 "$rc"
run_fl cache verify file://relative
expect_eq "cache verify of a bad URL: exit 2" 2 "$rc"

# --- an unreachable cache
run_fl cache verify "http://127.0.0.1:$dead/"
expect_eq "unreachable cache, verify: exit 1" 1 "$rc"
expect_contains "unreachable cache, verify: the URL" "cannot download http://127.0.0.1:$dead/nix-cache-info" "$err"
run_fl --substituters "http://127.0.0.1:$dead" store realise "$state/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x"
expect_eq "unreachable cache, realise: exit 1" 1 "$rc"
mkdir root
run_fl --root "$work/root" pull --from "http://127.0.0.1:$dead/" --host h \
  --trusted-public-key "k-1:$(head -c 32 /dev/zero | base64)"
expect_eq "unreachable cache, pull: exit 1" 1 "$rc"
expect_contains "unreachable cache, pull: the URL" "http://127.0.0.1:$dead/" "$err"

# --- a cache whose contents are wrong
mkdir -p nocache other corrupt
run_fl cache verify "file://$work/nocache"
expect_eq "no nix-cache-info: exit 1" 1 "$rc"
expect_contains "no nix-cache-info: says so" "has no nix-cache-info" "$err"
printf 'StoreDir: /elsewhere/store\n' >other/nix-cache-info
run_fl cache verify "file://$work/other"
expect_eq "another store's cache: exit 1" 1 "$rc"
expect_contains "another store's cache: says so" "is for the store /elsewhere/store" "$err"
printf 'StoreDir: %s\n' "$state/store" >corrupt/nix-cache-info
printf 'garbage\n' >corrupt/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.narinfo
run_fl cache verify "file://$work/corrupt"
expect_eq "a corrupt narinfo: exit 1" 1 "$rc"
expect_contains "a corrupt narinfo: named" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.narinfo:1: corrupt narinfo" "$out$err"

# --- a bad key file
printf 'not a key\n' >bad.sec
run_fl cache push --to "file://$work/c" --key bad.sec "$p"
expect_eq "a bad key file: exit 1" 1 "$rc"
expect_contains "a bad key file: named" "bad.sec: not a secret signing key" "$err"
run_fl cache push --to "file://$work/c" --key missing.sec "$p"
expect_eq "a missing key file: exit 1" 1 "$rc"
run_fl cache keygen k-1 -o bad.sec
expect_eq "keygen onto an existing file: exit 1" 1 "$rc"
echo "ok: cache errors exit 1 unless the command line is wrong (2)"
