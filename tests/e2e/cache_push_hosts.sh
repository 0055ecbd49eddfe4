#!/usr/bin/env bash
# `cache push` of several hosts in one run (--host A --host B, --on @tag) to a file:// cache
# served by a real nginx: the flake's outputs are evaluated once for all of them (a trace in
# them shows once), a path the hosts share is pushed once (the cache holds exactly the union of
# the closures that single-host pushes write), each host gets its own signed pointer naming
# its own toplevel, and two hosts then pull their own pointer over HTTP into their own state
# and root. A host that does not exist and a host whose pointer cannot be written are each
# reported with the host's name while the other hosts' pointers are still written (exit 1).
set -euo pipefail
: "${FLAKECTL:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/nginx-serve.bash"
work=$(mktemp -d)
chmod 755 "$work" # nginx's worker reads the cache as another user
trap 'nginx_serve_stop; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
state="$work/state" # one path, several stores in turn: the deployer's, then each host's
mkdir -p "$state" flake
fl() { "$FLAKECTL" --state-dir "$state" --flake "$work/flake" "$@"; }
narinfos() { find "$1" -maxdepth 1 -name '*.narinfo' -printf '%f\n' | sort; }
ptr() { sed -n "s/^$2: //p" "srv/cache/hosts/$1"; }

cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: builtins.trace "evaluating the flake's outputs" { hosts = {
  a = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./common.nix ./a.nix ];
        deploy = { targetHost = "root@a.invalid"; tags = [ "web" ]; }; };
  b = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./common.nix ./b.nix ];
        deploy = { targetHost = "root@b.invalid"; tags = [ "web" ]; }; };
  c = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./common.nix ];
        deploy = { targetHost = "root@c.invalid"; tags = [ "db" ]; }; };
}; }; }
EOF
cat > flake/common.nix <<'EOF'
{ pkgs, ... }: { environment.etc."shared".source = pkgs.writeText "shared" "the same on every host\n"; }
EOF
echo '{ ... }: { environment.etc."who".text = "a\n"; }' > flake/a.nix
echo '{ ... }: { environment.etc."who".text = "b\n"; }' > flake/b.nix
git -C flake init -q
git -C flake add -A
git -C flake -c user.name=t -c user.email=t@t commit -qm one
rev=$(git -C flake rev-parse HEAD)
pub=$(fl --quiet cache keygen push-1 -o key.sec)

# the oracle: each host's closure, as a push of that host alone writes it
for h in a b; do
    fl --quiet cache push --to "file://$work/one-$h" --host "$h" 2>/dev/null || fail "single push of $h"
done
tops_a=$(fl --quiet build --no-link --host a) tops_b=$(fl --quiet build --no-link --host b)
union=$(sort -u <(narinfos one-a) <(narinfos one-b))
shared=$(comm -12 <(narinfos one-a) <(narinfos one-b))
[ -n "$shared" ] || fail "the two hosts share no path: the test proves nothing"

# a, a host the flake does not have, and b: one run
rc=0
fl cache push --to "file://$work/srv/cache" --key key.sec --host a --host nope --host b \
    > push.out 2> push.err || rc=$?
[ "$rc" = 1 ] || fail "a push with a missing host exited $rc, not 1: $(cat push.err)"
grep -q '^\[nope\] error: .*no host .nope.' push.err || fail "the missing host is not named: $(cat push.err)"
[ "$(grep -c "evaluating the flake's outputs" push.err)" = 1 ] ||
    fail "the flake's outputs were evaluated $(grep -c "evaluating the flake" push.err) times for three hosts"
[ "$(narinfos srv/cache)" = "$union" ] || fail "the cache holds other paths than the union of the closures"
pushed=$(sed -n 's/^\([0-9]*\) paths pushed.*/\1/p' push.err)
[ "$pushed" = "$(echo "$union" | wc -l)" ] ||
    fail "pushed $pushed paths for a union of $(echo "$union" | wc -l) (shared paths twice?)"
for h in a b; do
    grep -q "pointer hosts/$h written" push.err || fail "no pointer line for $h: $(cat push.err)"
    [ "$(ptr "$h" Host)" = "$h" ] || fail "hosts/$h names host $(ptr "$h" Host)"
    [ "$(ptr "$h" Rev)" = "$rev" ] || fail "hosts/$h has no revision"
done
[ "$(ptr a StorePath)" = "$tops_a" ] || fail "hosts/a names $(ptr a StorePath), not $tops_a"
[ "$(ptr b StorePath)" = "$tops_b" ] || fail "hosts/b names $(ptr b StorePath), not $tops_b"
[ ! -e srv/cache/hosts/nope ] || fail "a pointer was written for the missing host"
grep -q '2 of 3 hosts pushed; 1 failed' push.err || fail "no summary: $(cat push.err)"

# --on @web: the same two hosts again, newer counters, nothing new to push
ca=$(ptr a Counter) cb=$(ptr b Counter)
fl cache push --to "file://$work/srv/cache" --key key.sec --on @web 2> on.err || fail "--on @web: $(cat on.err)"
grep -q '^0 paths pushed.*already there' on.err || fail "--on pushed paths again: $(cat on.err)"
[ "$(ptr a Counter)" -gt "$ca" ] && [ "$(ptr b Counter)" -gt "$cb" ] || fail "--on @web did not write newer pointers"
[ ! -e srv/cache/hosts/c ] || fail "--on @web wrote c's pointer"

# a pointer that cannot be written (hosts/b is a directory): b is named, a is still written
ca=$(ptr a Counter)
mv srv/cache/hosts/b b.pointer
mkdir srv/cache/hosts/b
rc=0
fl cache push --to "file://$work/srv/cache" --key key.sec --host b --host a 2> dir.err || rc=$?
[ "$rc" = 1 ] || fail "a pointer that cannot be written exited $rc: $(cat dir.err)"
grep -q '^\[b\] error' dir.err || fail "the failing pointer's host is not named: $(cat dir.err)"
[ "$(ptr a Counter)" -gt "$ca" ] || fail "a's pointer was not written beside b's failure"
rmdir srv/cache/hosts/b
mv b.pointer srv/cache/hosts/b

# usage: paths and hosts together, --host and --on together
rc=0
fl cache push --to "file://$work/srv/cache" --host a "$tops_a" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "PATH with --host exited $rc, not 2"
rc=0
fl cache push --to "file://$work/srv/cache" --host a --on @web 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--host with --on exited $rc, not 2"

# each host pulls its own pointer over HTTP from nginx, into a store of its own
chmod -R a+rX srv
nginx_serve "$work/srv" || exit $?
mv "$state" state.deployer
for h in a b; do
    mkdir -p "$state" "root-$h"
    "$FLAKECTL" --state-dir "$state" --root "$work/root-$h" pull --host "$h" \
        --from "http://127.0.0.1:$NGINX_PORT/cache" --trusted-public-key "$pub" > "pull-$h.out" 2>&1 ||
        fail "pull of $h: $(cat "pull-$h.out")"
    [ "$(readlink "root-$h/run/flakectl/current")" = "$(ptr "$h" StorePath)" ] || fail "$h does not run its pointer's toplevel"
    [ "$(cat "root-$h$(readlink "root-$h/etc/who")")" = "$h" ] || fail "$h's /etc/who is not its own"
    mv "$state" "state.$h"
done
grep -q 'GET /cache/hosts/a ' "$NGINX_LOG" && grep -q 'GET /cache/hosts/b ' "$NGINX_LOG" ||
    fail "nginx did not serve both pointers"
echo "cache_push_hosts: ok"
