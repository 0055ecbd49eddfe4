#!/usr/bin/env bash
# security_lock_entry.sh - a lock entry whose `locked` names another source than flake.nix
# declares (a bogus type, path or url) is refused at its line in flake.lock, and `update`
# relocks it (issue 20). It used to be used as if it matched, and kept.
set -uo pipefail
: "${FLAKECTL:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CACHE_HOME=$T/cache
mkdir -p "$T/f" "$T/dep" "$T/repo"
echo '{ x = 1; }' >"$T/dep/default.nix"
git -C "$T/repo" init -q && echo '{ y = 2; }' >"$T/repo/default.nix" &&
    git -C "$T/repo" add . && git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one ||
    fail "git repo"
cat >"$T/f/flake.nix" <<EOF
{ inputs.dep = { url = "path:../dep"; flake = false; };
  inputs.repo = { url = "git+file://$T/repo"; flake = false; };
  outputs = { self, dep, repo, ... }: {
    hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./host.nix ]; };
  }; }
EOF
echo '{ ... }: { networking.hostName = "h"; }' >"$T/f/host.nix"
fl() { "$FLAKECTL" --state-dir "$T/s" --flake "$T/f" "$@"; }
fl lock >/dev/null 2>&1 || fail "lock"
cp "$T/f/flake.lock" "$T/good.lock"

# edit NODE FIELD VALUE: one field of nodes.NODE.locked, as a hand edit would.
edit() {
    python3 - "$T/f/flake.lock" "$1" "$2" "$3" <<'EOF'
import json, sys
p, node, field, value = sys.argv[1:]
d = json.load(open(p))
d["nodes"][node]["locked"][field] = value
json.dump(d, open(p, "w"), indent=2, sort_keys=True)
EOF
}

for c in "dep type tarball" "dep path /etc" "repo type path" "repo url file:///srv/other"; do
    set -- $c
    cp "$T/good.lock" "$T/f/flake.lock"
    edit "$1" "$2" "$3"
    before=$(cat "$T/f/flake.lock")
    if fl build --host h --no-link >"$T/out" 2>"$T/err"; then fail "$c: accepted"; fi
    line=$(grep -n "\"$2\": \"$3\"" "$T/f/flake.lock" | cut -d: -f1)
    grep -q "flake.lock: input '$1' is locked with $2 \"$3\"" "$T/err" || { cat "$T/err" >&2; fail "$c: message"; }
    grep -q "at $T/f/flake.lock:$line:" "$T/err" || { cat "$T/err" >&2; fail "$c: not located at line $line"; }
    [ "$before" = "$(cat "$T/f/flake.lock")" ] || fail "$c: flake.lock was rewritten"
    fl update "$1" >/dev/null 2>&1 || fail "$c: update does not relock"
    fl build --host h --no-link >/dev/null 2>&1 || fail "$c: build after update"
done
echo ok
