#!/usr/bin/env bash
# Pull mode from Git with allowed signers (--allowed-signer, services.flakectl.pull.
# allowedSigners): commits signed by real `git commit -S` with gpg.format=ssh and keys made by
# real ssh-keygen. A commit signed by an allowed ed25519 key is pulled; refused, each with an
# error naming the commit and the key: an unsigned commit, one signed by another key, one
# changed after it was signed, one signed in another SSHSIG namespace, an OpenPGP armor, an
# RSA key's signature. git verify-commit (with an allowed_signers file) is the oracle for the
# signed and the changed commit. A refused commit leaves the running generation and is
# recorded.
set -euo pipefail
: "${FLAKECTL:?}"
command -v ssh-keygen >/dev/null || { echo "ssh-keygen is not installed" >&2; exit 77; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
state="$work/state"
root="$work/root"
mkdir -p "$root"
ssh-keygen -q -t ed25519 -N '' -C alice@example -f alice
ssh-keygen -q -t ed25519 -N '' -C mallory@example -f mallory
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa@example -f rsakey
allowed=$(cat alice.pub)
pull() { "$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 --allowed-signer "$allowed" "$@"; }
rec() { jq -r ".$1" "$state/host/status.json"; }
greeting() { cat "$root$(readlink "$root/etc/greeting")"; }
git init -q --bare -b main origin.git
git init -q -b main flake
git -C flake config user.name t
git -C flake config user.email t@t
git -C flake config gpg.format ssh
echo "t@t $allowed" > allowed_signers
git -C flake config gpg.ssh.allowedSignersFile "$work/allowed_signers"
cat > flake/flake.nix <<'NIX'
{ outputs = { self, ... }: { hosts.h1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h1.nix ]; }; }; }
NIX
# commit V KEY|-: a new commit on origin's main, signed with KEY (- = unsigned)
commit() {
    echo "{ ... }: { environment.etc.\"greeting\".text = \"$1\\n\"; }" > flake/h1.nix
    git -C flake add -A
    if [ "$2" = - ]; then
        git -C flake commit -q --no-gpg-sign -m "$1"
    else
        git -C flake -c user.signingkey="$work/$2" commit -q -S -m "$1"
    fi
    git -C flake push -q -f "$work/origin.git" HEAD:main
}
# object BODY SIG: a commit object made by hand from the file BODY (a commit without its
# gpgsig header) with the armored signature in the file SIG as that header (none: empty SIG)
object() {
    local sig=""
    [ ! -s "$2" ] || sig=$(sed '1s/^/gpgsig /; 2,$s/^/ /' "$2")
    awk -v sig="$sig" '{ print } /^committer / && sig != "" { print sig }' "$1" |
        git -C flake hash-object -t commit -w --stdin
}
src="git+file://$work/origin.git?ref=main"
src_nobranch="git+file://$work/origin.git"

# refused REV WHAT MESSAGE: the pull of REV fails with MESSAGE naming REV, v1 stays
refused() {
    local rev=$1 what=$2 msg=$3
    git -C flake push -q -f "$work/origin.git" "$rev:refs/heads/main"
    if pull --from "$src_nobranch" --rev "$rev" > out 2> err; then fail "$what was accepted"; fi
    grep -qF -- "$msg" err || fail "$what: expected '$msg' in: $(cat err)"
    grep -qF "commit $rev" err || fail "$what: the error does not name the commit: $(cat err)"
    [ "$(greeting)" = v1 ] || fail "$what changed the root"
    [ ! -e "$state/profiles/system-2-link" ] || fail "$what made a generation"
    rec lastError | grep -qF -- "$msg" || fail "$what: not recorded: $(rec lastError)"
    echo "ok: refused $what"
}

commit v1 alice
rev1=$(git -C flake rev-parse HEAD)
git -C flake verify-commit "$rev1" 2>/dev/null || fail "git itself does not accept alice's signature"
pull --from "$src" > out 2> err || fail "pull of a commit signed by alice: $(cat out err)"
[ "$(greeting)" = v1 ] && [ "$(rec rev)" = "$rev1" ] || fail "v1 was not pulled: $(cat out err)"
grep -q "commit $rev1: SSH signature by an allowed signer" out || fail "no signature line: $(cat out)"
echo "ok: a commit signed by an allowed key (git commit -S, gpg.format=ssh) is pulled"

commit v2 -
refused "$(git -C flake rev-parse HEAD)" "an unsigned commit" "is not signed, and this host pulls only commits signed by one of 1 allowed signer"

commit v3 mallory
fp=$(ssh-keygen -lf mallory.pub | awk '{ print $2 }')
refused "$(git -C flake rev-parse HEAD)" "a commit signed by another key" "is signed by ssh-ed25519 $fp, which is not an allowed signer"

# alice's signature on v1's commit, the message changed afterwards
git -C flake cat-file commit "$rev1" | sed '/^gpgsig /,/^ -----END/d' > v1.body
git -C flake cat-file commit "$rev1" | sed -n '/^gpgsig /,/^ -----END/p' | sed '1s/^gpgsig //; 2,$s/^ //' > alice.sig
sed 's/^v1$/v1, changed/' v1.body > changed.body
changed=$(object changed.body alice.sig)
[ "$(object v1.body alice.sig)" = "$rev1" ] || fail "the hand-made commit is not v1's (the test is wrong)"
if git -C flake verify-commit "$changed" 2>/dev/null; then fail "git accepts the changed commit (the test is wrong)"; fi
refused "$changed" "a commit changed after it was signed" "that does not verify (the commit was changed after it was signed)"

# a valid SSHSIG by alice over v1's commit, but made for files, not for git
ssh-keygen -q -Y sign -f alice -n file v1.body 2>/dev/null
refused "$(object v1.body v1.body.sig)" "a signature made for another namespace" "is for the namespace 'file', not 'git'"

printf '%s\n' '-----BEGIN PGP SIGNATURE-----' '' 'iQEzBAABCAAdFiEE' '-----END PGP SIGNATURE-----' > pgp.sig
refused "$(object changed.body pgp.sig)" "an OpenPGP signature" "carries a signature that is not an SSH signature (an OpenPGP one)"

commit v4 rsakey
refused "$(git -C flake rev-parse HEAD)" "an RSA key's signature" "is signed by ssh-rsa"

# an allowed signer that is not an ed25519 key is a usage error naming it
if "$FLAKECTL" --state-dir "$state" --root "$root" pull --host h1 --from "$src" \
    --allowed-signer "$(cat rsakey.pub)" > out 2> err; then fail "an RSA allowed signer was accepted"; fi
grep -q -- "--allowed-signer: 'ssh-rsa' is not an ssh-ed25519 public key" err || fail "RSA allowed signer: $(cat err)"
echo "ok: an allowed signer must be an ssh-ed25519 key"
