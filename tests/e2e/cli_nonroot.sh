#!/usr/bin/env bash
# cli_nonroot.sh - run as an unprivileged user (setpriv to uid/gid 65534, which creates
# nothing on the machine): a command that must write a state directory or a root it may not
# write says once that it needs root and the sudo command line that would work, and nothing
# else (no "Permission denied" chain, no --state-dir hint for a command that activates); it
# changes nothing first. An unreadable host key gets a permissions hint, never "rekey".
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to drop to uid 65534 (CI runs as root)"; exit 77; }
command -v setpriv >/dev/null || fail "setpriv is missing: run scripts/install-deps.sh (util-linux)"
chmod 755 "$T"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# as_nobody OUT ERR ARGS...: flakectl as uid 65534; its status in rc
as_nobody() {
    local out=$1 err=$2
    shift 2
    set +e
    (cd "$T" && "${NOBODY[@]}" env -u FLAKECTL_STATE_DIR -u FLAKECTL_ROOT "$FLAKECTL" "$@" >"$out" 2>"$err")
    rc=$?
    set -e
}
# once ERR: the error is exactly one "error:" line and one hint line
once() {
    [ "$(wc -l <"$1")" = 2 ] || { cat "$1" >&2; fail "expected one error and one hint in $1"; }
    [ "$(grep -c '^error: ' "$1")" = 1 ] || { cat "$1" >&2; fail "expected one error in $1"; }
    expect_not_contains "$1" "Permission denied"
    expect_not_contains "$1" "store lock"
    expect_not_contains "$1" "set FLAKECTL_STATE_DIR"
}

host_flake "$T/f"
echo '{ ... }: { environment.etc.motd.text = "hi\n"; }' >"$T/f/host.nix"
chmod -R a+rX "$T/f"

# a state directory owned by root: build, switch, dry-activate, rollback, gc
mkdir -p "$T/rstate"
as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/rstate" --root "$ROOT" build --host h --no-link
[ "$rc" = 1 ] || fail "build as nobody: exit $rc"
once "$T/e"
expect_contains "$T/e" "error: 'flakectl build' needs root: $T/rstate (the state directory) is not writable by nobody"
expect_contains "$T/e" "hint: run it as root: sudo $FLAKECTL --flake $T/f --state-dir $T/rstate --root $ROOT build --host h --no-link"
# building needs only a store: the user's own is the other way
expect_contains "$T/e" "or give --state-dir DIR for a store of your own"

as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/rstate" --root "$ROOT" switch --host h
[ "$rc" = 1 ] || fail "switch as nobody: exit $rc"
once "$T/e"
expect_contains "$T/e" "error: 'flakectl switch' needs root: $T/rstate (the state directory)"
expect_contains "$T/e" "sudo $FLAKECTL --flake $T/f --state-dir $T/rstate --root $ROOT switch --host h"
expect_not_contains "$T/e" "store of your own"
[ ! -s "$T/o" ] || { cat "$T/o"; fail "switch printed something before refusing"; }
[ -z "$(ls -A "$T/rstate")" ] || fail "the refused switch wrote into the state directory"

# arguments that need quoting come back quoted, ready to paste
as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/rstate" switch --host "h x"
expect_contains "$T/e" "sudo $FLAKECTL --flake $T/f --state-dir $T/rstate switch --host 'h x'"

for cmd in rollback gc dry-activate; do
    args=("$cmd")
    [ "$cmd" = dry-activate ] && args=(--flake "$T/f" dry-activate --host h)
    as_nobody "$T/o" "$T/e" --state-dir "$T/rstate" --root "$ROOT" "${args[@]}"
    [ "$rc" = 1 ] || fail "$cmd as nobody: exit $rc"
    once "$T/e"
    expect_contains "$T/e" "error: 'flakectl $cmd' needs root"
    expect_contains "$T/e" "hint: run it as root: sudo "
done

# the user's own state directory, a root it may not write: the root is named, nothing built
mkdir -p "$T/ustate"
chown 65534:65534 "$T/ustate"
as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/ustate" --root "$ROOT" switch --host h
[ "$rc" = 1 ] || fail "switch into a root-owned root: exit $rc"
once "$T/e"
expect_contains "$T/e" "error: 'flakectl switch' needs root: $ROOT (the root) is not writable by nobody"
[ -z "$(ls -A "$T/ustate")" ] || fail "the refused switch built into the state directory first"
# while the same user may build into that store, and dry-activate reads the root
as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/ustate" --root "$ROOT" build --host h --no-link
[ "$rc" = 0 ] || { cat "$T/e"; fail "build into the user's own store: exit $rc"; }
as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/ustate" --root "$ROOT" dry-activate --host h
[ "$rc" = 0 ] || { cat "$T/e"; fail "dry-activate with the user's own store: exit $rc"; }
expect_contains "$T/o" "+ /etc/motd"

# root itself is never told to use sudo
fl --flake "$T/f" build --host h --no-link >"$T/o" 2>"$T/e" || { cat "$T/e"; fail "build as root"; }

# an unreadable host key: a permissions problem, not a missing recipient
mkdir -p "$ROOT/etc/ssh"
"$FLAKECTL" secret keygen -o "$ROOT/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$ROOT/etc/ssh/ssh_host_ed25519_key")
chmod 600 "$ROOT/etc/ssh/ssh_host_ed25519_key"
age=$STORE/0123456789abcdef0123456789abcdef-token.age
printf 'secret-value' | "$FLAKECTL" secret encrypt -r "$hostpub" -o "$age"
chmod 444 "$age"
A=$(mk_top a)
write_profile "$A"
printf '[ { "name": "token", "file": "%s", "path": "/run/flakectl/secrets/token", "owner": "root", "group": "root", "mode": "0400", "restartUnits": [], "reloadUnits": [] } ]\n' "$age" >"$A/secrets.json"
chmod -R a+rX "$T/tops" "$STORE"
chown -R 65534:65534 "$ROOT" "$STATE"
chown root:root "$ROOT/etc/ssh/ssh_host_ed25519_key"
as_nobody "$T/o" "$T/e" --state-dir "$STATE" --root "$ROOT" activate "$A" --mode switch
[ "$rc" = 1 ] || { cat "$T/o" "$T/e"; fail "activating with an unreadable key: exit $rc"; }
expect_contains "$T/e" "1 secret cannot be decrypted"
expect_contains "$T/e" "$ROOT/etc/ssh/ssh_host_ed25519_key cannot be read by this user: run flakectl as root (sudo)"
expect_not_contains "$T/e" "rekey"
# a command that does not use the state directory gets the refused file named, not "root"
as_nobody "$T/o" "$T/e" secret decrypt -i "$ROOT/etc/ssh/ssh_host_ed25519_key" "$age"
[ "$rc" = 1 ] || fail "secret decrypt with an unreadable key: exit $rc"
expect_contains "$T/e" "$ROOT/etc/ssh/ssh_host_ed25519_key"
expect_contains "$T/e" "Permission denied"
expect_not_contains "$T/e" "needs root"
# readable, but the secret is for another key: then the recipient hint is the right one
chown 65534:65534 "$ROOT/etc/ssh/ssh_host_ed25519_key"
"$FLAKECTL" secret keygen -o "$T/other.key" 2>/dev/null
rm -f "$age"
printf 'secret-value' | "$FLAKECTL" secret encrypt -r "$("$FLAKECTL" secret keygen -y "$T/other.key")" -o "$age"
chmod 444 "$age"
as_nobody "$T/o" "$T/e" --state-dir "$STATE" --root "$ROOT" activate "$A" --mode switch
[ "$rc" = 1 ] || { cat "$T/o" "$T/e"; fail "activating with a secret for another key: exit $rc"; }
expect_contains "$T/e" "run 'flakectl secret rekey'"
expect_not_contains "$T/e" "cannot be read by this user"
# check changes nothing but a store: without root and without --state-dir it checks with a
# store of the user's own (a new user right after `flakectl init`, a CI job), and says so;
# a state directory the user named is still refused
if [ ! -w /var/lib ] || [ "$(stat -c %u /var/lib)" = 0 ]; then
    mkdir -p "$T/nbcache" && chown 65534:65534 "$T/nbcache"
    set +e
    (cd "$T/f" && "${NOBODY[@]}" env -u FLAKECTL_STATE_DIR -u FLAKECTL_ROOT XDG_CACHE_HOME="$T/nbcache" \
        "$FLAKECTL" check >"$T/o" 2>"$T/e")
    rc=$?
    set -e
    [ "$rc" = 0 ] || { cat "$T/o" "$T/e"; fail "check as nobody: exit $rc"; }
    expect_contains "$T/e" "note: /var/lib/flakectl is not writable by you: checking with a store of your own in $T/nbcache/flakectl/check-state"
    expect_contains "$T/o" "ok   h ("
    [ -d "$T/nbcache/flakectl/check-state/store" ] || fail "check as nobody: no store of its own"
    as_nobody "$T/o" "$T/e" --flake "$T/f" --state-dir "$T/rstate" check
    [ "$rc" = 1 ] || fail "check as nobody with a named state directory: exit $rc"
    once "$T/e"
    expect_contains "$T/e" "error: 'flakectl check' needs root: $T/rstate (the state directory) is not writable by nobody"
fi
echo "cli_nonroot: ok"
