#!/usr/bin/env bash
# Issue 20, finding 4: symlinks planted in the root at every directory activation writes (and
# at the files it reads) are never followed. Each case plants a link to a directory or file
# outside the root, then switches; it passes when nothing outside the root was written,
# nothing there was read (canary content never shows up in the root, the state dir or the
# output), and the switch either stops with an error naming the link or does the safe thing.
# Every case runs (a summary lists the failed ones), so a run names all that regress.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
export XDG_CACHE_HOME=$T/cache
CANARY="canary-$RANDOM$RANDOM"
OUT=$T/outside
KEYS=$T/keys
mkdir -p "$KEYS"
"$FLAKECTL" secret keygen -o "$KEYS/host" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$KEYS/host")
PLAIN="plain-$RANDOM$RANDOM"
age=$STORE/token.age
printf '%s' "$PLAIN" | "$FLAKECTL" secret encrypt -r "$hostpub" -o "$age"
chmod 0444 "$age"
motd=$(store_file motd 'welcome
')
unitfile() { printf '[Service]\nExecStart=/bin/true\n' >"$1/units/web.service"; }

# A toplevel with something in every place activation writes: /etc (a link and a copy), a
# unit, a user with a home and a home file, a secret with a declared path under /var/lib.
# extra: more profile.json keys as JSON ("identityPaths": [...]).
mk_full() { # NAME [EXTRA-JSON]
    local top
    top=$(mk_top "$1")
    link_etc "$top" motd "$motd"
    unitfile "$top"
    write_profile "$top" etc="{ $(etc_link motd "$motd"), $(etc_copy app.conf "$motd" 0644) }" \
        users="{ $(user alice) }" units="{ $(unit web.service r l) }" \
        home="{ \"alice\": { \"home\": \"/home/alice\", \"files\": { \".config/app/rc\": { \"source\": \"$motd\", \"executable\": false, \"copy\": true } } } }"
    if [ -n "${2:-}" ]; then
        python3 - "$top/profile.json" "$2" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.update(json.loads("{" + sys.argv[2] + "}"))
json.dump(p, open(sys.argv[1], "w"))
PY
    fi
    printf '[ { "name": "token", "file": "%s", "path": "/var/lib/app/token", "owner": "root", "group": "root", "mode": "0400", "restartUnits": [], "reloadUnits": [] } ]\n' "$age" >"$top/secrets.json"
    echo "$top"
}
TOP=$(mk_full full)

# A fresh root with the host key in place, and a fresh outside directory holding canaries
# (a shadow with a canary hash, a key that would decrypt the secret, files in the shape of
# what activation writes).
fresh() {
    rm -rf "$ROOT" "$STATE" "$OUT"
    mkdir -p "$ROOT" "$STATE" "$OUT"
    base_etc
    mkdir -p "$ROOT/etc/ssh"
    cp "$KEYS/host" "$ROOT/etc/ssh/ssh_host_ed25519_key"
    printf 'root:x:0:0:root:/root:/bin/bash\n' >"$OUT/passwd"
    printf 'root:x:0:\nusers:x:100:\n' >"$OUT/group"
    printf 'root:$6$%s:19000:0:99999:7:::\n' "$CANARY" >"$OUT/shadow"
    printf '%s\n' "$CANARY" >"$OUT/canary"
    cp "$KEYS/host" "$OUT/ssh_host_ed25519_key"
    chmod 0600 "$OUT/shadow" "$OUT/ssh_host_ed25519_key"
}

failed=()
case_fail() {
    echo "FAIL [$CASE]: $*" >&2
    [ "${failed[*]: -1}" = "$CASE" ] 2>/dev/null || failed+=("$CASE")
}

# run_case NAME EXPECT MESSAGE: switches to $TOP with the link planted (by the caller,
# after fresh); EXPECT is "error" (the switch fails and its error contains MESSAGE) or "ok".
run_case() {
    CASE=$1
    local expect=$2 msg=$3 rc=0
    local before root_before
    before=$(snapshot "$OUT")
    root_before=$(content_snapshot "$ROOT")
    "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" activate "${TOPLEVEL:-$TOP}" --mode switch >"$T/out" 2>&1 || rc=$?
    if [ "$expect" = error ]; then
        [ $rc -ne 0 ] || case_fail "the switch succeeded through the planted link"
        grep -qF -- "$msg" "$T/out" || { sed 's/^/    /' "$T/out" >&2; case_fail "the error does not say '$msg'"; }
        [ "$root_before" = "$(content_snapshot "$ROOT")" ] || case_fail "the failed switch changed the root: $(diff <(echo "$root_before") <(content_snapshot "$ROOT") | head -5)"
    else
        [ $rc -eq 0 ] || { sed 's/^/    /' "$T/out" >&2; case_fail "the switch failed"; }
    fi
    [ "$before" = "$(snapshot "$OUT")" ] || case_fail "something outside the root changed: $(diff <(echo "$before") <(snapshot "$OUT") | head -5)"
    if grep -rqF -e "$CANARY" -e "$PLAIN" "$ROOT" "$STATE" 2>/dev/null && [ "$expect" = error ]; then
        case_fail "content from outside the root (or a plaintext) ended up in the root or the state dir"
    fi
    grep -rqF -- "$CANARY" "$ROOT" "$STATE" "$T/out" 2>/dev/null && case_fail "the canary outside the root was read into the root, the state or the output"
    echo "case $CASE: exit $rc: $(grep -m1 "^error:" "$T/out")"
}

# --- directories ---
fresh; ln -s "$OUT" "$ROOT/run"
run_case run error "/run is a symlink"
fresh; mkdir -p "$ROOT/run"; ln -s "$OUT" "$ROOT/run/flakectl"
run_case run-flakectl error "/run/flakectl is a symlink"
fresh; mkdir -p "$ROOT/run/flakectl"; ln -s "$OUT" "$ROOT/run/flakectl/secrets.d"
run_case secrets.d error "/run/flakectl/secrets.d is a symlink"
fresh; mv "$ROOT/etc"/* "$OUT"/ 2>/dev/null || true; cp "$KEYS/host" "$OUT/ssh_host_ed25519_key"; rmdir "$ROOT/etc/ssh" "$ROOT/etc" 2>/dev/null || rm -rf "$ROOT/etc"; ln -s "$OUT" "$ROOT/etc"
run_case etc error "/etc is a symlink"
fresh; ln -s "$OUT" "$ROOT/etc/static"
run_case etc-static error "/etc/static: exists (a symlink) and is not managed"
fresh; mkdir -p "$ROOT/etc/systemd"; ln -s "$OUT" "$ROOT/etc/systemd/system"
run_case etc-systemd-system error "/etc/systemd/system is a symlink"
fresh; mkdir -p "$ROOT/home"; ln -s "$OUT" "$ROOT/home/alice"
run_case home error "/home/alice is a symlink"
fresh; mkdir -p "$ROOT/home/alice"; ln -s "$OUT" "$ROOT/home/alice/.config"
run_case home-config error "/home/alice/.config is a symlink"
fresh; mkdir -p "$ROOT/var"; ln -s "$OUT" "$ROOT/var/lib"
run_case secret-path-parent error "/var/lib is a symlink"
fresh; mkdir -p "$ROOT/var/lib"; ln -s "$OUT" "$ROOT/var/lib/app"
run_case secret-path-dir error "/var/lib/app is a symlink"

# --- the files activation reads and rewrites ---
fresh; rm "$ROOT/etc/shadow"; ln -s "$OUT/shadow" "$ROOT/etc/shadow"
run_case shadow-out error "/etc/shadow is a symlink"
[ "$(readlink "$ROOT/etc/shadow")" = "$OUT/shadow" ] || case_fail "/etc/shadow (the planted link) was replaced"
fresh; mkdir -p "$ROOT/var/lib/auth"; mv "$ROOT/etc/shadow" "$ROOT/var/lib/auth/shadow"; ln -s ../var/lib/auth/shadow "$ROOT/etc/shadow"
inside=$(snapshot "$ROOT/var/lib/auth")
run_case shadow-in-root error "/etc/shadow is a symlink"
[ "$inside" = "$(snapshot "$ROOT/var/lib/auth")" ] || case_fail "the link's target inside the root changed"
[ -L "$ROOT/etc/shadow" ] || case_fail "/etc/shadow (the planted link) was replaced by a file"
fresh; rm "$ROOT/etc/passwd"; ln -s "$OUT/passwd" "$ROOT/etc/passwd"
run_case passwd-out error "/etc/passwd is a symlink"

# --- identity files: read as the machine would, never outside the root ---
fresh; rm -rf "$ROOT/etc/ssh"; ln -s "$OUT" "$ROOT/etc/ssh"
run_case identity-dir-out error "cannot be decrypted"
fresh; rm "$ROOT/etc/ssh/ssh_host_ed25519_key"
TOPLEVEL=$(mk_full dotdot "\"identityPaths\": [\"/../../../../../../../../..$OUT/ssh_host_ed25519_key\"]")
run_case identity-dotdot error "cannot be decrypted"
# A host key that is a link within the root (an impermanent root's /persist) is followed,
# resolved in the root: the switch works and the secret is installed.
fresh; mkdir -p "$ROOT/persist"; mv "$ROOT/etc/ssh/ssh_host_ed25519_key" "$ROOT/persist/key"; ln -s /persist/key "$ROOT/etc/ssh/ssh_host_ed25519_key"
TOPLEVEL=
run_case identity-in-root-link ok ""
[ "$(cat "$ROOT/run/flakectl/secrets/token" 2>/dev/null)" = "$PLAIN" ] || case_fail "the secret was not installed with the key reached through a link in the root"

if [ ${#failed[@]} -gt 0 ]; then
    fail "${#failed[@]} case(s) failed: ${failed[*]}"
fi
echo "all cases passed"
