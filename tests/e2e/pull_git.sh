#!/usr/bin/env bash
# Pull mode from Git: the host fetches its flake from a real Git repository (a bare one, as
# a forge holds it) at a branch, builds itself and activates; a new commit on the branch is
# pulled; the branch forced back to an older commit, or an explicit older --rev, is refused
# (never a commit that does not descend from the running one); a missing branch is an error
# naming it; a commit whose activation fails leaves the running generation and records the
# error. The checkout stays clean: flake.lock is never written into it.
set -euo pipefail
: "${FLAKECTL:?}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
root="$work/root"
mkdir -p "$root"
pull() { "$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 "$@"; }
rec() { jq -r ".$1" "$state/host/status.json"; }
greeting() { cat "$root$(readlink "$root/etc/greeting")"; }
git init -q --bare -b main origin.git
git init -q -b main flake
cat > flake/flake.nix <<'NIX'
{ outputs = { self, ... }: { hosts.h1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h1.nix ]; }; }; }
NIX
# commit V [EXTRA]: a new commit on origin's main
commit() {
    cat > flake/h1.nix <<NIX
{ ... }: { environment.etc."greeting".text = "$1\n"; ${2:-} }
NIX
    git -C flake add -A
    git -C flake -c user.name=t -c user.email=t@t commit -qm "$1"
    git -C flake push -q -f "$work/origin.git" HEAD:main
}
commit v1
rev1=$(git -C flake rev-parse HEAD)
src="git+file://$work/origin.git?ref=main"

pull --from "$src" > out 2> err || fail "first pull: $(cat out err)"
[ "$(greeting)" = v1 ] || fail "v1 is not active"
grep -q "built .* from file://$work/origin.git at $rev1" out || fail "no 'built' line: $(cat out)"
[ "$(rec rev)" = "$rev1" ] && [ "$(rec via)" = pull ] && [ "$(rec generation)" = 1 ] && [ "$(rec dirty)" = false ] ||
    fail "record after the first pull: $(cat "$state/host/status.json")"
[ -z "$(git -C "$state/host/flake" status --porcelain)" ] || fail "the checkout is not clean: $(git -C "$state/host/flake" status --porcelain)"
echo "ok: pulled $rev1 from Git, built and activated"

pull --from "$src" > out 2> err || fail "second pull: $(cat out err)"
grep -q "nothing to do" out || fail "an unchanged branch activated something: $(cat out)"
[ ! -e "$state/profiles/system-2-link" ] || fail "an unchanged branch made a generation"
echo "ok: an unchanged branch changes nothing"

commit v2
rev2=$(git -C flake rev-parse HEAD)
pull --from "$src" > out 2> err || fail "pull of v2: $(cat out err)"
[ "$(greeting)" = v2 ] && [ "$(rec rev)" = "$rev2" ] && [ "$(rec generation)" = 2 ] || fail "v2 was not pulled: $(cat out err)"
echo "ok: a new commit on the branch is pulled"

# the branch forced back, and an explicit older revision: refused
git -C flake push -q -f "$work/origin.git" "$rev1:main"
for how in "--from $src" "--from git+file://$work/origin.git --rev $rev1"; do
    # shellcheck disable=SC2086
    if pull $how > out 2> err; then fail "going back ($how) was accepted"; fi
    grep -q "$rev1 is not a descendant of $rev2, the revision this host runs: refusing to go back" err ||
        fail "going back ($how): $(cat err)"
    [ "$(greeting)" = v2 ] && [ "$(rec rev)" = "$rev2" ] || fail "going back ($how) changed the host"
    rec lastError | grep -q "refusing to go back" || fail "not recorded: $(rec lastError)"
done
git -C flake push -q -f "$work/origin.git" "$rev2:main"
echo "ok: an older commit (branch forced back, or --rev) is refused"

if pull --from "git+file://$work/origin.git?ref=nosuch" > out 2> err; then fail "a missing branch was accepted"; fi
grep -q "has no branch or tag 'nosuch'" err || fail "missing branch: $(cat err)"
if pull --from "git+file://$work/origin.git?branch=main" > out 2> err; then fail "an unknown parameter was accepted"; fi
grep -q "unknown parameter 'branch=main'" err || fail "unknown parameter: $(cat err)"
echo "ok: a missing branch and an unknown parameter are errors naming them"

commit v3 'system.activationScripts.broken = "exit 1";'
if pull --from "$src" > out 2> err; then fail "a failing activation succeeded"; fi
grep -q "activation failed at step 'activation script broken'" err || fail "failing activation: $(cat err)"
[ "$(greeting)" = v2 ] && [ "$(readlink "$state/profiles/system")" = system-2-link ] || fail "v2 was not restored"
[ "$(rec rev)" = "$rev2" ] || fail "the record names $(rec rev), not the running $rev2"
rec lastError | grep -q "activation script 'broken' exited with status 1" || fail "not recorded: $(rec lastError)"
echo "ok: a failing commit leaves v2 running and records the error"
