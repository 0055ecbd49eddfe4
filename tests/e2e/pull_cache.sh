#!/usr/bin/env bash
# Pull mode from a binary cache served by a real nginx: a deployer pushes host h1's closure
# with a signed pointer (cache push --host h1 --key), the host pulls it over HTTP into its own
# root and state (the same store directory, as two machines would have), a second pull is a
# no-op of one request, a newer push is pulled, and the refusals: a replayed older pointer,
# a pointer with an edited counter (bad signature), an unsigned one, one signed by an
# untrusted key, one naming another host, a missing one. A failing activation puts the
# previous generation back and records the error; a pull killed mid-activation is finished
# by the next. Each outcome is checked in the host's record (state/host/status.json).
set -euo pipefail
: "${FLAKECTL:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/nginx-serve.bash"
work=$(mktemp -d)
chmod 755 "$work" # nginx's worker reads the cache as another user
trap 'nginx_serve_stop; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() {
    echo "FAIL: $*" >&2
    [ -s "$NGINX_DIR/ngx/error.log" ] && sed 's/^/nginx: /' "$NGINX_DIR/ngx/error.log" >&2
    exit 1
}
state="$work/state" # one path, two stores: the deployer's and the host's, swapped in turn
root="$work/root"
mkdir -p "$root"
as_deployer() { mv "$state" state.host; mv state.deployer "$state"; }
as_host() { mv "$state" state.deployer; mv state.host "$state"; }
mkdir "$state"
dfl() { "$FLAKECTL" --quiet --state-dir "$state" --flake "$work/flake" "$@"; }
pull() { "$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 "$@"; }
rec() { jq -r ".$1" "$state/host/status.json"; }
requests() { wc -l < "$NGINX_LOG"; }
# /etc/greeting of the root (a link into /etc/static, which the root resolves)
greeting() { cat "$root$(readlink "$root/etc/greeting")"; }

mkdir flake
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts.h1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h1.nix ]; }; }; }
EOF
# version V [EXTRA]: the host's configuration, committed
version() {
    cat > flake/h1.nix <<EOF
{ ... }: { environment.etc."greeting".text = "$1\n"; ${2:-} }
EOF
    git -C flake add -A
    git -C flake -c user.name=t -c user.email=t@t commit -qm "$1"
}
git -C flake init -q
version v1
pub=$(dfl cache keygen pull-1 -o key.sec)
other=$(dfl cache keygen other-1 -o other.sec)
"$FLAKECTL" --state-dir "$state" --flake "$work/flake" cache push --to "file://$work/srv/cache" \
    --key key.sec --host h1 2>push.err || fail "push: $(cat push.err)"
grep -q "pointer hosts/h1 written" push.err || fail "push did not say it wrote the pointer: $(cat push.err)"
top1=$(dfl build --no-link --host h1)
# the same host in a second cache under another key, pushed before every pointer below
dfl cache push --to "file://$work/srv/cache2" --key other.sec --host h1 2>/dev/null
rev1=$(git -C flake rev-parse HEAD)
grep -qx "StorePath: $top1" srv/cache/hosts/h1 || fail "the pointer does not name $top1: $(cat srv/cache/hosts/h1)"
grep -qx "Rev: $rev1" srv/cache/hosts/h1 || fail "the pointer does not carry the revision"
cp srv/cache/hosts/h1 pointer.v1
chmod -R a+rX srv
mv "$state" state.deployer
mkdir "$state"
nginx_serve "$work/srv" || exit $?
url="http://127.0.0.1:$NGINX_PORT/cache"

# 1. the first pull: substituted over HTTP, activated, recorded
pull --from "$url" --trusted-public-key "$pub" > out 2> err || fail "first pull: $(cat out err)"
[ "$(greeting)" = v1 ] || fail "v1 is not active"
grep -q "pulled $top1" out || fail "no 'pulled' line: $(cat out)"
grep -q "GET /cache/hosts/h1 HTTP/1.1\" 200" "$NGINX_LOG" || fail "nginx served no pointer"
grep -q "GET /cache/nar/" "$NGINX_LOG" || fail "the closure did not come over HTTP"
[ "$(rec via)" = pull ] && [ "$(rec generation)" = 1 ] && [ "$(rec toplevel)" = "$top1" ] &&
    [ "$(rec rev)" = "$rev1" ] && [ "$(rec lastError)" = null ] && [ "$(rec host)" = h1 ] ||
    fail "record after the first pull: $(cat "$state/host/status.json")"
c1=$(rec pointer.counter)
grep -qx "Counter: $c1" pointer.v1 || fail "recorded counter $c1 is not the pointer's"
echo "ok: first pull over HTTP activated $top1 (counter $c1)"

# 2. no-op: one request (the pointer), nothing activated, nothing rewritten
before=$(requests)
stamp=$(stat -c %Y.%i "$state/host/status.json")
pull --from "$url" --trusted-public-key "$pub" > out 2> err || fail "no-op pull: $(cat out err)"
grep -q "nothing to do" out || fail "no-op pull did something: $(cat out)"
[ $(($(requests) - before)) = 1 ] || fail "a no-op pull made $(($(requests) - before)) requests"
[ "$stamp" = "$(stat -c %Y.%i "$state/host/status.json")" ] || fail "a no-op pull rewrote the record"
[ ! -e "$state/profiles/system-2-link" ] || fail "a no-op pull made a generation"
echo "ok: a no-op pull is one request and changes nothing"

# 3. a newer push is pulled
as_deployer
version v2
dfl cache push --to "file://$work/srv/cache" --key key.sec --host h1 2>/dev/null
top2=$(dfl build --no-link --host h1)
chmod -R a+rX srv
as_host
pull --from "$url" --trusted-public-key "$pub" > out 2> err || fail "pull of v2: $(cat out err)"
[ "$(greeting)" = v2 ] || fail "v2 is not active"
[ "$(rec generation)" = 2 ] && [ "$(rec toplevel)" = "$top2" ] || fail "record after v2: $(cat "$state/host/status.json")"
c2=$(rec pointer.counter)
[ "$c2" -gt "$c1" ] || fail "the second push's counter $c2 is not above $c1"
cp srv/cache/hosts/h1 pointer.v2
echo "ok: a newer pointer (counter $c2) is pulled and activated"

# refused POINTER_FILE WHAT MESSAGE [pull args]: the pull fails with MESSAGE and v2 stays
refused() {
    local file=$1 what=$2 msg=$3
    shift 3
    cp "$file" srv/cache/hosts/h1
    if pull --from "$url" "$@" > out 2> err; then fail "$what was accepted"; fi
    grep -qF -- "$msg" err || fail "$what: expected '$msg' in: $(cat err)"
    grep -qF "$url/hosts/h1" err || fail "$what: the error does not name the pointer: $(cat err)"
    [ "$(greeting)" = v2 ] || fail "$what changed the root"
    [ ! -e "$state/profiles/system-3-link" ] || fail "$what made a generation"
    [ "$(rec pointer.counter)" = "$c2" ] || fail "$what changed the applied counter"
    rec lastError | grep -qF -- "$msg" || fail "$what: not recorded: $(rec lastError)"
    echo "ok: refused $what"
}
refused pointer.v1 "a replayed older pointer" "older than the pointer this host applied" --trusted-public-key "$pub"
sed "s/^Counter: .*/Counter: $((c2 + 1000))/" pointer.v2 > edited
refused edited "an edited counter" "no valid signature by a trusted key" --trusted-public-key "$pub"
grep -v '^Sig:' pointer.v2 > unsigned
refused unsigned "an unsigned pointer" "is not signed" --trusted-public-key "$pub"
refused pointer.v2 "a pointer by an untrusted key" "no valid signature by a trusted key" --trusted-public-key "$other"
sed "s/^Host: h1/Host: h9/" pointer.v2 > otherhost
refused otherhost "a pointer naming another host" "names host 'h9', not 'h1'" --trusted-public-key "$pub"
cp pointer.v2 srv/cache/hosts/h1
# a successful no-op after the errors clears the recorded error
pull --from "$url" --trusted-public-key "$pub" > out 2> err || fail "no-op after refusals: $(cat err)"
[ "$(rec lastError)" = null ] || fail "the last error was not cleared: $(rec lastError)"
if "$FLAKECTL" --state-dir "$state" --root "$root" pull --host nosuch --from "$url" --trusted-public-key "$pub" 2> err; then
    fail "a missing pointer was accepted"
fi
grep -q "$url/hosts/nosuch does not exist" err && grep -q "cache push --to URL --host nosuch" err ||
    fail "missing pointer: $(cat err)"
echo "ok: a missing pointer is an error saying how to write one"
# usage errors: exit 2, nothing recorded
last=$(rec lastError)
st=0; "$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 2> err || st=$?
[ "$st" = 2 ] && grep -q "give --from URL" err || fail "pull without --from: status $st, $(cat err)"
st=0; pull --from "$url" --ref main --trusted-public-key "$pub" 2> err || st=$?
[ "$st" = 2 ] && grep -q -- "--ref, --rev and --allowed-signer are for a Git source" err || fail "--ref with a cache: status $st, $(cat err)"
[ "$(rec lastError)" = "$last" ] || fail "a usage error was recorded: $(rec lastError)"
echo "ok: a missing --from and --ref with a cache are usage errors"

# 4. a failing activation: v2 is restored, the error recorded, the pointer not applied
as_deployer
version v3 'system.activationScripts.broken = "echo v3 cannot start >&2; exit 1";'
dfl cache push --to "file://$work/srv/cache" --key key.sec --host h1 2>/dev/null
chmod -R a+rX srv
as_host
if pull --from "$url" --trusted-public-key "$pub" > out 2> err; then fail "a failing activation succeeded"; fi
grep -q "activation failed at step 'activation script broken'" err || fail "failing activation: $(cat err)"
grep -q "restored" err || fail "the error does not say what was restored: $(cat err)"
[ "$(greeting)" = v2 ] || fail "v2 was not restored"
[ "$(readlink "$state/profiles/system")" = system-2-link ] || fail "the default moved"
[ "$(rec generation)" = 2 ] && [ "$(rec toplevel)" = "$top2" ] && [ "$(rec pointer.counter)" = "$c2" ] ||
    fail "record after the failure: $(cat "$state/host/status.json")"
rec lastError | grep -q "activation script 'broken' exited with status 1" || fail "error not recorded: $(rec lastError)"
echo "ok: a failing activation restores v2 and records the error"

# 5. going back on purpose: --allow-downgrade takes the old pointer
cp pointer.v1 srv/cache/hosts/h1
pull --from "$url" --trusted-public-key "$pub" --allow-downgrade > out 2> err || fail "allow-downgrade: $(cat out err)"
grep -q "going on: --allow-downgrade" out || fail "no warning for the downgrade: $(cat out)"
[ "$(greeting)" = v1 ] || fail "--allow-downgrade did not bring v1 back"
[ "$(rec pointer.counter)" = "$c1" ] || fail "the applied counter is not v1's"
echo "ok: --allow-downgrade goes back to an older pointer, with a warning"

# 6. a pull killed (-9) in the middle of its activation: the next pull finishes the job
as_deployer
version v4 "system.activationScripts.slow = \"touch $work/slow-started; sleep 2\";"
dfl cache push --to "file://$work/srv/cache" --key key.sec --host h1 2>/dev/null
top4=$(dfl build --no-link --host h1)
chmod -R a+rX srv
as_host
"$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 --from "$url" \
    --trusted-public-key "$pub" > out 2> err & # the binary itself, so that $! is its pid
pid=$!
for _ in $(seq 300); do [ -e slow-started ] && break; sleep 0.1; done
[ -e slow-started ] || fail "the slow activation script never started: $(cat out err)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
grep -q "^activated $top4" out && fail "the pull was not killed before the end of its activation"
[ "$(rec pointer.counter)" != "$(sed -n 's/^Counter: //p' srv/cache/hosts/h1)" ] ||
    fail "a killed pull recorded its pointer as applied"
pull --from "$url" --trusted-public-key "$pub" > out 2> err || fail "the pull after a killed one: $(cat out err)"
[ "$(greeting)" = v4 ] && [ "$(readlink "$root/run/flakectl/current")" = "$top4" ] || fail "v4 is not active after the second pull"
[ "$(rec toplevel)" = "$top4" ] && [ "$(rec lastError)" = null ] && [ "$(rec pointer.counter)" -gt "$c2" ] ||
    fail "record after the killed pull: $(cat "$state/host/status.json")"
echo "ok: a pull killed mid-activation is finished by the next one"

# 7. counters are per key (docs/pull.md): the second cache's pointer (key other-1) is older
# than the applied one (pull-1's v4)
url2="http://127.0.0.1:$NGINX_PORT/cache2"
c0=$(sed -n 's/^Counter: //p' srv/cache2/hosts/h1)
[ "$c0" -lt "$(rec pointer.counter)" ] || fail "the second cache's counter $c0 is not the older one"
if pull --from "$url2" --trusted-public-key "$pub" --trusted-public-key "$other" > out 2> err; then
    fail "a second trusted key took the host back to an older pointer"
fi
grep -q "older than the pointer this host applied" err || fail "downgrade by a second key: $(cat err)"
[ "$(greeting)" = v4 ] || fail "the refused downgrade changed the root"
echo "ok: a second trusted key cannot take the host back (counter $c0 below the applied one)"
# moved: the host trusts other-1 alone; pull-1's counter no longer holds it back
pull --from "$url2" --trusted-public-key "$other" > out 2> err || fail "moved to another key: $(cat out err)"
[ "$(greeting)" = v1 ] || fail "the pointer of the new key is not active"
[ "$(rec pointer.counter)" = "$c0" ] && [ "$(jq -r '.pointer.signers[0]' "$state/host/status.json")" = "$other" ] ||
    fail "record after the move: $(cat "$state/host/status.json")"
[ "$(jq -r --arg k "$pub" '.pointerMarks[$k].counter' "$state/host/status.json")" -gt "$c0" ] ||
    fail "pull-1's mark was lost: $(cat "$state/host/status.json")"
echo "ok: a host moved to another key is not locked out by the old key's counter"
# and trusting pull-1 again, its replayed v1 pointer is still refused: its mark stayed
refused_again() {
    if pull --from "$url" "$@" > out 2> err; then fail "pull-1's replayed v1 pointer was accepted"; fi
    grep -q "older than the pointer this host applied" err || fail "replay after the move: $(cat err)"
}
cp pointer.v1 srv/cache/hosts/h1
refused_again --trusted-public-key "$pub" --trusted-public-key "$other"
refused_again --trusted-public-key "$pub"
echo "ok: the old key's replayed pointer is refused after the move"
