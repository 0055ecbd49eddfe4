#!/usr/bin/env bash
# cache push --to ssh://USER@HOST:PORT/DIR against a real sshd on 127.0.0.1: the directory on
# the host becomes a cache identical in layout to a file:// push (flakectl need not be on the
# host), a second push writes nothing, a store substitutes from it, and a push killed with
# -9 leaves no .narinfo without its complete NAR.
set -euo pipefail
: "${FLAKECTL:?} ${FLAKECTL_SRC:?}"
source "$FLAKECTL_SRC/tests/e2e/lib/sshd.sh"
sshd_work
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }

sshd_start cachehost || fail "sshd did not start"
ssh_opts=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)

mkdir src && head -c 500000 /dev/urandom > src/blob && echo hi > src/small
dep=$(fl store add src)
top=$(fl store build --name top --builder /bin/sh --arg -c --arg "echo $dep > \$out" --input "$dep")
pub=$(fl cache keygen ssh-1 -o key.sec)
remote_dir="$work/remote/srv/cache" # the "host" is this machine: its file system is ours

fl cache push --to "ssh://$SSHD_TARGET$remote_dir" "${ssh_opts[@]}" --key key.sec "$top"
fl cache push --to "file://$work/local" --key key.sec "$top"
[ "$(cd "$remote_dir" && find . -type f | sort)" = "$(cd "$work/local" && find . -type f | sort)" ] ||
    fail "the ssh cache's files differ from a file:// push's"
for f in $(cd "$work/local" && find . -type f); do
    cmp "$remote_dir/$f" "$work/local/$f" || fail "$f differs"
done
[ -z "$(find "$remote_dir" -name '.tmp-*')" ] || fail "temporary files left on the host"
# the same directories too: a push without --host writes no pointer, so no hosts/
[ "$(cd "$remote_dir" && find . -type d | sort)" = "$(cd "$work/local" && find . -type d | sort)" ] ||
    fail "the ssh cache's directories differ from a file:// push's: $(cd "$remote_dir" && find . -type d)"
[ ! -e "$remote_dir/hosts" ] || fail "a push without --host made $remote_dir/hosts"
fl cache verify "file://$remote_dir" --trusted-public-key "$pub" > /dev/null || fail "does not verify"
echo "ok: push over ssh writes the same cache as a file:// push"

before=$(ls -l --time-style=+%s.%N "$remote_dir")
out=$("$FLAKECTL" --state-dir "$state" cache push --to "ssh://$SSHD_TARGET$remote_dir" \
    "${ssh_opts[@]}" --key key.sec "$top" 2>&1)
echo "$out" | grep -q "0 paths pushed.*2 already there" || fail "second push: $out"
[ "$before" = "$(ls -l --time-style=+%s.%N "$remote_dir")" ] || fail "a second push rewrote files"
echo "ok: a second push over ssh writes nothing"

mv "$state" "$work/state.orig"
[ "$(fl store realise --substituters "file://$remote_dir" --trusted-public-key "$pub" "$top")" = "$top" ] ||
    fail "could not substitute from the ssh-pushed cache"
rm -rf "$state"
mv "$work/state.orig" "$state"
echo "ok: substitution from the ssh-pushed cache"

# --host H over ssh: the closure, then the signed pointer hosts/H; a second push raises its
# counter (the old pointer is read over the same connection); a host pulls from it
mkdir flake
cat > flake/flake.nix <<'EOF'
{ outputs = { self, ... }: { hosts.h = { system = "x86_64-linux"; platform = "nixos";
  modules = [ { environment.etc."greeting".text = "hi\n"; } ]; }; }; }
EOF
fl --flake flake cache push --to "ssh://$SSHD_TARGET$remote_dir" "${ssh_opts[@]}" --key key.sec --host h
htop=$(fl --flake flake build --no-link --host h)
grep -qx "StorePath: $htop" "$remote_dir/hosts/h" || fail "pointer over ssh: $(cat "$remote_dir/hosts/h")"
c1=$(sed -n 's/^Counter: //p' "$remote_dir/hosts/h")
fl --flake flake cache push --to "ssh://$SSHD_TARGET$remote_dir" "${ssh_opts[@]}" --key key.sec --host h
c2=$(sed -n 's/^Counter: //p' "$remote_dir/hosts/h")
[ "$c2" -gt "$c1" ] || fail "the second pointer's counter $c2 is not above $c1"
[ -z "$(find "$remote_dir" -name '.tmp-*')" ] || fail "temporary files left on the host"
mv "$state" "$work/state.orig"
mkdir "$work/hroot"
fl --root "$work/hroot" pull --host h --from "file://$remote_dir" --trusted-public-key "$pub" > /dev/null ||
    fail "could not pull from the ssh-pushed pointer"
[ "$(readlink "$work/hroot/run/flakectl/current")" = "$htop" ] || fail "the pulled toplevel is not active"
rm -rf "$state"
mv "$work/state.orig" "$state"
echo "ok: cache push --host over ssh writes a signed pointer a host pulls"

# errors name the problem: a relative or missing directory, an unreachable host
if fl cache push --to "ssh://$SSHD_TARGET" "${ssh_opts[@]}" "$top" 2>err; then fail "accepted a URL without DIR"; fi
grep -q "expected ssh://" err || fail "no-dir error: $(cat err)"
if fl cache push --to "ssh://root@127.0.0.1:1/srv/x" "${ssh_opts[@]}" "$top" 2>err; then fail "pushed to a closed port"; fi
grep -qi "refused\|cannot connect" err || fail "closed port error: $(cat err)"
echo "ok: bad ssh URLs and unreachable hosts are errors"

# kill -9 mid-push
big=$(for i in 1 2 3; do mkdir -p "big$i"; head -c 1500000 /dev/urandom > "big$i/f"; fl store add "big$i"; done)
all=$(fl store build --name all --builder /bin/sh --arg -c --arg "echo $(echo $big) > \$out" \
    $(for p in $big; do echo --input "$p"; done))
interrupted=0
for delay in 0.3 0.8; do
    rm -rf "$work/k"
    "$FLAKECTL" --quiet --state-dir "$state" cache push --to "ssh://$SSHD_TARGET$work/k" \
        "${ssh_opts[@]}" --key key.sec --compression xz "$all" & pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for ni in "$work/k"/*.narinfo; do
        [ -e "$ni" ] || continue
        url=$(grep '^URL' "$ni" | cut -d' ' -f2)
        [ "$(stat -c %s "$work/k/$url" 2>/dev/null)" = "$(grep '^FileSize' "$ni" | cut -d' ' -f2)" ] ||
            fail "kill at $delay s: $ni names a missing or partial NAR"
    done
    [ "$(ls "$work/k"/*.narinfo 2>/dev/null | wc -l)" -lt 4 ] && interrupted=$((interrupted + 1))
    fl cache push --to "ssh://$SSHD_TARGET$work/k" "${ssh_opts[@]}" --key key.sec "$all"
    fl cache verify "file://$work/k" --trusted-public-key "$pub" > verify.out ||
        fail "after kill at $delay s: $(cat verify.out)"
done
[ "$interrupted" -gt 0 ] || fail "no kill landed before the push ended (the check was void)"
echo "ok: kill -9 mid-push over ssh leaves no narinfo without its NAR"
