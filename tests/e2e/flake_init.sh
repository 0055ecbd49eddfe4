# flake_init.sh - `flakectl init`: each template gives a flake that `flakectl check` passes at
# once (offline) and that builds; the files are staged in a new Git repository, or in the one
# the directory is in (never a nested one); nothing is ever overwritten, and a failure
# halfway leaves the directory as it was.
set -uo pipefail
: "${FLAKECTL:?run through ctest (FLAKECTL is the binary)}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
fl() { "$FLAKECTL" --state-dir "$T/state" "$@"; }
# snapshot DIR: every path below DIR with its content's hash (.git's objects excluded)
snapshot() { (cd "$1" && find . -path ./.git/objects -prune -o -print0 | sort -z |
    xargs -0 -I{} sh -c 'if [ -f "{}" ]; then sha256sum "{}"; else echo "{}"; fi') 2>/dev/null; }

# ---- seed into a directory that does not exist yet ----
fl init "$T/seed" >"$T/out" 2>"$T/err" || fail "init seed: $(cat "$T/err")"
for f in flake.nix .gitignore hosts/homelab/default.nix hosts/macbook/default.nix \
    hosts/wsl/default.nix modules/common/default.nix modules/server/default.nix \
    modules/desktop/default.nix home/common.nix secrets/README.md secrets/secrets.nix; do
    [ -f "$T/seed/$f" ] || fail "seed: no $f"
    grep -qxF "  $f" "$T/out" || fail "seed: $f not listed in the output"
done
[ -d "$T/seed/.git" ] || fail "seed: no Git repository"
grep -q "a new Git repository" "$T/out" || fail "seed: the output does not say a repository was made"
untracked=$(git -C "$T/seed" status --porcelain | grep -v '^A  ')
[ -z "$untracked" ] || fail "seed: files not staged: $untracked"
grep -q "ssh-keyscan\|keygen" "$T/seed/secrets/README.md" || fail "seed: the secrets README says nothing on keys"
# one source with the bundled example (src/flake/templates.cmake): monitoring.nix as it is,
# flake.nix but for its description and the one homelab host standing for the two nodes
cmp -s "$T/seed/modules/server/monitoring.nix" "$FLAKECTL_SRC/modules/server/monitoring.nix" ||
    fail "seed: monitoring.nix is not the example's"
shared() { sed '/^  description = /d; /^        homelab[-a-z0-9]* = host/,/^        };/d' "$1"; }
[ "$(shared "$T/seed/flake.nix")" = "$(shared "$FLAKECTL_SRC/flake.nix")" ] ||
    fail "seed: flake.nix drifted from the example's: $(diff <(shared "$T/seed/flake.nix") <(shared "$FLAKECTL_SRC/flake.nix"))"
grep -q '^        homelab = host "homelab" {' "$T/seed/flake.nix" || fail "seed: no homelab host"
grep -q "@USER@\|@HOST@" -r "$T/seed" --exclude-dir=.git && fail "seed: a placeholder was left"
(cd "$T/seed" && fl check) >"$T/check" 2>&1 || fail "seed: check failed: $(cat "$T/check")"
grep -q "3 passed, 0 failed" "$T/check" || fail "seed: check: $(cat "$T/check")"
(cd "$T/seed" && fl build --host homelab) >"$T/build" 2>&1 || fail "seed: build: $(cat "$T/build")"
top=$(readlink "$T/seed/result")
case "$top" in "$T/state/store/"*-flakectl-system-homelab) ;; *) fail "seed: build's result is '$top'" ;; esac
[ -f "$top/profile.json" ] || fail "seed: the built toplevel has no profile.json"

# ---- a second init refuses, names the file, changes nothing ----
before=$(snapshot "$T/seed")
(cd "$T/seed" && fl init) >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "second init: exit $rc, expected 1"
grep -q "error: flake.nix already exists; flakectl init never overwrites" "$T/err" ||
    fail "second init: $(cat "$T/err")"
grep -q "16 of the template's 16 files are in the way" "$T/err" || fail "second init hint: $(cat "$T/err")"
[ "$before" = "$(snapshot "$T/seed")" ] || fail "second init changed the directory"
# one file in the way is enough to write nothing
mkdir -p "$T/one/hosts/wsl"
echo keep >"$T/one/hosts/wsl/default.nix"
fl init "$T/one" >/dev/null 2>"$T/err" && fail "init over hosts/wsl/default.nix succeeded"
grep -q "$T/one/hosts/wsl/default.nix already exists" "$T/err" || fail "one in the way: $(cat "$T/err")"
[ "$(find "$T/one" | wc -l)" = 4 ] || fail "init wrote files although one was in the way: $(find "$T/one")"
[ "$(cat "$T/one/hosts/wsl/default.nix")" = keep ] || fail "the file in the way changed"
# a link on the way is not followed
mkdir -p "$T/evil" "$T/target"
ln -s "$T/target" "$T/evil/hosts"
fl init "$T/evil" >/dev/null 2>"$T/err" && fail "init through a symlinked hosts/ succeeded"
grep -q "$T/evil/hosts already exists" "$T/err" || fail "symlink: $(cat "$T/err")"
[ -z "$(ls -A "$T/target")" ] || fail "init wrote through the link"

# ---- a failure halfway removes what was written: files beyond 1 KiB cannot be written ----
mkdir "$T/half"
(trap '' XFSZ; ulimit -f 1; "$FLAKECTL" init "$T/half") >/dev/null 2>"$T/err" &&
    fail "init under a 1 KiB file size limit succeeded"
# files are written in order, flake.nix last: monitoring.nix is the first beyond the limit,
# a dozen files after the first
grep -q "cannot write $T/half/modules/server/monitoring.nix" "$T/err" || fail "halfway: $(cat "$T/err")"
[ -z "$(ls -A "$T/half")" ] || fail "halfway: left behind: $(cd "$T/half" && find . | head)"
(trap '' XFSZ; ulimit -f 1; "$FLAKECTL" init "$T/half2") >/dev/null 2>&1
[ -e "$T/half2" ] && fail "halfway: the directory init made is still there"

# ---- minimal, named for this machine by default ----
fl init --template minimal --host box "$T/min" >"$T/out" 2>"$T/err" || fail "init minimal: $(cat "$T/err")"
[ -f "$T/min/hosts/box/default.nix" ] || fail "minimal: no hosts/box/default.nix"
grep -q 'hosts.box = {' "$T/min/flake.nix" || fail "minimal: flake.nix does not declare host box"
grep -q "sudo flakectl switch --host box" "$T/out" || fail "minimal: next steps: $(cat "$T/out")"
(cd "$T/min" && fl check) >"$T/check" 2>&1 || fail "minimal: check: $(cat "$T/check")"
grep -q "1 passed, 0 failed" "$T/check" || fail "minimal: check: $(cat "$T/check")"
(cd "$T/min" && fl build --host box --out-link "$T/min-result") >/dev/null 2>"$T/err" ||
    fail "minimal: build: $(cat "$T/err")"
[ -f "$T/min-result/profile.json" ] || fail "minimal: nothing built"
me=$(hostname | cut -d. -f1)
if [[ $me =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]]; then
    fl init -t minimal "$T/min2" >/dev/null 2>&1 || fail "init minimal without --host"
    [ -f "$T/min2/hosts/$me/default.nix" ] || fail "minimal: not named after this machine ($me)"
    # flakectl picks this machine's host without --host
    (cd "$T/min2" && fl eval --host "$me" networking.hostName) | grep -q "\"$me\"" ||
        fail "minimal: networking.hostName is not $me"
else
    echo "note: host name '$me' is no Nix name; init names the host my-machine"
fi

# ---- inside an existing repository: staged there, no nested repository ----
git init -q "$T/repo"
echo "# infra" >"$T/repo/README"
fl init "$T/repo/infra" >"$T/out" 2>"$T/err" || fail "init in a repo: $(cat "$T/err")"
[ -e "$T/repo/infra/.git" ] && fail "init nested a repository in $T/repo/infra"
grep -q "staged in the Git repository it is in" "$T/out" || fail "in a repo: $(cat "$T/out")"
git -C "$T/repo" status --porcelain | grep -qx "A  infra/flake.nix" ||
    fail "in a repo: infra/flake.nix not staged: $(git -C "$T/repo" status --porcelain | head -3)"
git -C "$T/repo" status --porcelain | grep -qx "?? README" || fail "in a repo: init staged README"
(cd "$T/repo/infra" && fl check) >"$T/check" 2>&1 || fail "in a repo: check: $(cat "$T/check")"

# another user's repository (libgit2 will not open it for root): refused, nothing nested
if id nobody >/dev/null 2>&1; then
    git init -q "$T/theirs"
    chown -R nobody "$T/theirs"
    fl init "$T/theirs/infra" >/dev/null 2>"$T/err" && fail "init in another user's repository succeeded"
    grep -q "is inside the Git repository $T/theirs/.git/" "$T/err" || fail "theirs: $(cat "$T/err")"
    [ -e "$T/theirs/infra" ] && fail "theirs: init left $T/theirs/infra behind"
fi

# ---- usage errors ----
fl init --template big "$T/x" >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "unknown template: exit 2 expected"
grep -q "seed, minimal" "$T/err" || grep -q "seed" "$T/err" || fail "unknown template: $(cat "$T/err")"
fl init -t minimal --host 'a b' "$T/x" >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "bad --host: exit 2 expected"
grep -q -- "--host 'a b'" "$T/err" || fail "bad --host: $(cat "$T/err")"
[ -e "$T/x" ] && fail "a refused init made $T/x"
touch "$T/file"
fl init "$T/file" >/dev/null 2>"$T/err"
[ $? = 1 ] || fail "init into a file: exit 1 expected"
grep -q "is not a directory" "$T/err" || fail "init into a file: $(cat "$T/err")"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
