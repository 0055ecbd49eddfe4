# activate-fixtures.bash - shared by tests/e2e/activate_*.sh: a temp root, state dir and
# store per test, and helpers that build toplevels by hand following docs/toplevel.md.
set -euo pipefail
: "${FLAKECTL:?run through ctest (FLAKECTL is the binary)}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ROOT=$T/root
STATE=$T/state
STORE=$T/store
mkdir -p "$ROOT" "$STATE" "$STORE"

fl() { "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_contains FILE TEXT: the file holds TEXT (shown on failure).
expect_contains() {
    grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "expected '$2' in $1"; }
}
expect_not_contains() {
    ! grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "did not expect '$2' in $1"; }
}

# store_file NAME CONTENT: a read-only store-like file; prints its path.
store_file() {
    local h p
    h=$(printf '%s' "$2" | sha256sum | cut -c1-32)
    p=$STORE/$h-$1
    [ -e "$p" ] || { printf '%s' "$2" >"$p"; chmod 0444 "$p"; }
    echo "$p"
}

# mk_top NAME: an empty toplevel directory; the caller writes profile.json.
mk_top() {
    local d=$T/tops/$1
    mkdir -p "$d/etc" "$d/sw/bin" "$d/home" "$d/units" "$d/activation"
    echo "$d"
}

# link_etc TOP TARGET SOURCE: the browsable tree entry for an /etc file.
link_etc() {
    mkdir -p "$(dirname "$1/etc/$2")"
    ln -sfn "$3" "$1/etc/$2"
}

# Hash every file, link and directory (type, mode, owner, target or content) beneath dirs,
# except the state directory's host/ (the host's record: a refused activation records its
# error there, see host_record; so the top directory's own mtime is left out too).
snapshot() {
    local d
    for d in "$@"; do
        stat -c '. %F %a %u %g' "$d"
        (cd "$d" && find . -mindepth 1 -path ./host -prune -o -printf '%p %y %m %U %G %s %T@ %i\n' | LC_ALL=C sort)
        (cd "$d" && find . -path ./host -prune -o -type l -printf '%p -> %l\n' | LC_ALL=C sort)
        (cd "$d" && find . -path ./host -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    done
}

# host_record KEY: the value of KEY in the host's record (STATE/host/status.json).
host_record() { jq -r ".$1" "$STATE/host/status.json"; }

# write_profile TOP [key=json ...]: profile.json with the given parts (etc, users, groups,
# home, units, scripts, packages, flake) and empty defaults for the rest.
write_profile() {
    local top=$1
    shift
    local etc='{}' users='{}' groups='{}' home='{}' units='{}' scripts='[]' packages='[]'
    local flake='{ "path": "/src/machines", "rev": null, "dirty": null }'
    local kv
    for kv in "$@"; do local "$kv"; done
    cat >"$top/profile.json" <<JSON
{ "version": 1, "host": "h1", "system": "x86_64-linux", "platform": "nixos",
  "flake": $flake, "hostName": "h1",
  "etc": $etc, "users": $users, "groups": $groups, "home": $home, "units": $units,
  "activationScripts": $scripts, "packages": $packages, "warnings": [] }
JSON
}

# etc_link NAME SOURCE -> a profile.json etc entry linked through /etc/static.
etc_link() { printf '"%s": { "source": "%s", "mode": "symlink", "user": "root", "group": "root" }' "$1" "$2"; }
# etc_copy NAME SOURCE MODE [USER GROUP] -> a copied etc entry.
etc_copy() { printf '"%s": { "source": "%s", "mode": "%s", "user": "%s", "group": "%s" }' "$1" "$2" "$3" "${4:-root}" "${5:-root}"; }
# unit NAME RESTARTHASH RELOADHASH [restartIfChanged]: a units entry (the file is made in TOP).
unit() {
    printf '"%s": { "file": "units/%s", "wantedBy": ["multi-user.target"], "restartIfChanged": %s, "restartHash": "%s", "reloadHash": "%s" }' \
        "$1" "$1" "${4:-true}" "$2" "$3"
}
# script NAME: an activationScripts entry.
script() { printf '{ "name": "%s", "deps": [], "file": "activation/%s.sh" }' "$1" "$1"; }
# user NAME [extra json fields]: a normal user.
user() {
    printf '"%s": { "uid": null, "group": "users", "extraGroups": [], "home": "/home/%s", "createHome": true, "shell": "/bin/sh", "description": "", "isNormalUser": true, "isSystemUser": false, "hashedPassword": null, "authorizedKeys": [] %s}' \
        "$1" "$1" "${2:+, $2}"
}
# base_etc: a minimal foreign passwd/group/shadow in the root, as a fresh install has.
base_etc() {
    mkdir -p "$ROOT/etc"
    printf 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
    printf 'root:x:0:\nwheel:x:10:root\nusers:x:100:\n' >"$ROOT/etc/group"
    printf 'root:$6$abc$def:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n' >"$ROOT/etc/shadow"
    chmod 0640 "$ROOT/etc/shadow"
}

# What the files say, not when they were written: type, mode, owner, link target, content.
content_snapshot() {
    local d
    for d in "$@"; do
        (cd "$d" && find . -printf '%p %y %m %U %G %l\n' | LC_ALL=C sort)
        (cd "$d" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    done
}
