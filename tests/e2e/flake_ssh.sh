# flake_ssh.sh - a git+ssh input served by a real sshd on 127.0.0.1: fetched with the user's
# key, the host key checked against known_hosts (unknown and changed keys refused).
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/sshd.sh"
work=$(mktemp -d)
trap 'sshd_stop_all; rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
unset SSH_AUTH_SOCK
# sanitizer builds: libgit2's own leaks in its ssh transport (see the file)
# (slow unwinding: libgit2 has no frame pointers, and the suppression needs its frames)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "$0")" && pwd)/lib/lsan-libgit2-ssh.supp"
g() { git -C "$1" "${@:2}" >/dev/null 2>&1 || fail "git $*"; }

sshd_start git || fail "sshd did not start"
export FLAKECTL_SSH_KEY=$SSHD_CLIENT_KEY
export FLAKECTL_KNOWN_HOSTS=$work/known_hosts

mkdir -p "$work/lib"
echo '{ outputs = { self }: { value = "over ssh"; }; }' >"$work/lib/flake.nix"
g "$work/lib" init -q -b main
g "$work/lib" add -A
g "$work/lib" commit -q -m one
rev=$(git -C "$work/lib" rev-parse HEAD)

F="$work/flake"
mkdir -p "$F"
cat >"$F/flake.nix" <<NIX
{
  inputs.lib.url = "git+ssh://root@127.0.0.1:$SSHD_PORT$work/lib";
  outputs = { self, lib, ... }: {
    hosts.h = { system = "x86_64-linux"; modules = [ ({ ... }: { networking.hostName = lib.value; }) ]; };
  };
}
NIX

# unknown host key: refused, and the message says what to do
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "unknown host key exit" 1 "$rc"
expect_contains "unknown host key message" "is not in $work/known_hosts" "$err"
[ ! -f "$F/flake.lock" ] || fail "a refused fetch wrote flake.lock"

# a wrong key for the host: refused as a change
ssh-keygen -q -t ed25519 -N '' -f "$work/other_key"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$work/other_key.pub")" >"$work/known_hosts"
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "changed host key exit" 1 "$rc"
expect_contains "changed host key message" "differs from the one in" "$err"

# the right key: fetched, locked
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >"$work/known_hosts"
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "ssh fetch exit ($err)" 0 "$rc"
expect_eq "ssh input value" '"over ssh"' "$out"
expect_contains "ssh input locked" "locked input 'lib' at $rev" "$err"
expect_eq "locked url" "\"ssh://root@127.0.0.1:$SSHD_PORT$work/lib\"" "$(jq .nodes.lib.locked.url "$F/flake.lock")"

# a new commit, fetched by update over ssh
echo '{ outputs = { self }: { value = "updated over ssh"; }; }' >"$work/lib/flake.nix"
g "$work/lib" commit -q -am two
rev2=$(git -C "$work/lib" rev-parse HEAD)
run_fl --flake "$F" update
expect_eq "ssh update exit ($err)" 0 "$rc"
expect_eq "ssh update line" "lib: $rev → $rev2" "$out"

# offline again: the server is gone, the cache and store answer
sshd_stop git
run_fl --flake "$F" --state-dir "$work/state2" eval --host h networking.hostName
expect_eq "offline after ssh ($err)" 0 "$rc"
expect_eq "offline value" '"updated over ssh"' "$out"
echo "flake_ssh: all assertions passed"
