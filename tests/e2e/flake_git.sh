# flake_git.sh - the flake as a Git work tree: untracked files are invisible (an error naming
# the file and `git add`), a dirty tree warns, and the commit and dirty flag reach profile.json.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
g() { git -C "$1" "${@:2}" >/dev/null 2>&1 || fail "git $*"; }

# The flake sits in a subdirectory of the repository, as in a monorepo.
R="$work/repo"
F="$R/config"
mkdir -p "$F/hosts/h"
cat >"$F/flake.nix" <<'NIX'
{
  inputs = { };
  outputs = { self, ... }: {
    hosts.h = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./hosts/h ]; };
  };
}
NIX
cat >"$F/hosts/h/default.nix" <<'NIX'
{ ... }: {
  networking.hostName = "tracked";
  environment.etc."listing".text = builtins.concatStringsSep "," (builtins.attrNames (builtins.readDir ./.));
  environment.etc."exists".text = if builtins.pathExists ./notes.txt then "yes" else "no";
  environment.etc."copied".text = builtins.concatStringsSep "," (builtins.attrNames (builtins.readDir "${./.}"));
}
NIX
echo "secret notes" >"$F/hosts/h/notes.txt"
g "$R" init -q -b main
g "$R" add config/flake.nix config/hosts/h/default.nix
g "$R" commit -q -m one
rev=$(git -C "$R" rev-parse HEAD)

run_fl --flake "$F" eval --host h networking.hostName
expect_eq "clean eval ($err)" 0 "$rc"
expect_eq "clean value" '"tracked"' "$out"
expect_not_contains "clean tree: no warning" "dirty" "$err"
run_fl --flake "$F" eval --host h environment.etc.listing.text
expect_eq "readDir lists tracked files only" '"default.nix"' "$out"
run_fl --flake "$F" eval --host h environment.etc.copied.text
expect_eq "a directory copied to the store holds tracked files only ($err)" '"default.nix"' "$out"
run_fl --flake "$F" eval --host h environment.etc.exists.text
expect_eq "pathExists is false for an untracked file" '"no"' "$out"
run_fl --flake "$F" eval --host h --json
expect_eq "profile.json exit ($err)" 0 "$rc"
expect_eq "profile.json flake.rev" "\"$rev\"" "$(jq .flake.rev <<<"$out")"
expect_eq "profile.json flake.dirty" false "$(jq .flake.dirty <<<"$out")"
expect_eq "profile.json flake.shortRev" "\"${rev:0:7}\"" "$(jq .flake.shortRev <<<"$out")"
run_fl --flake "$F" build --host h
expect_eq "build exit ($err)" 0 "$rc"
top=$(tail -n1 <<<"$out")
[ -f "$top/profile.json" ] || fail "build printed [$top], which holds no profile.json"
expect_eq "built profile.json carries the rev" "\"$rev\"" "$(jq .flake.rev "$top/profile.json")"

# --- a reference to an untracked file: the error names it and says git add
cat >"$F/hosts/h/extra.nix" <<'NIX'
{ ... }: { networking.hostName = "extra"; }
NIX
cat >"$F/hosts/h/default.nix" <<'NIX'
{ ... }: { imports = [ ./extra.nix ]; }
NIX
g "$R" add config/hosts/h/default.nix
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "untracked import exit" 1 "$rc"
expect_contains "untracked file named" "'config/hosts/h/extra.nix' is not tracked by Git" "$err"
expect_contains "untracked: git add" "git add config/hosts/h/extra.nix" "$err"
expect_contains "dirty warning" "warning: Git tree '$R' is dirty" "$err"
g "$R" add config/hosts/h/extra.nix
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "after git add ($err)" 0 "$rc"
expect_eq "after git add value" '"extra"' "$out"
expect_contains "still dirty (not committed)" "warning: Git tree '$R' is dirty" "$err"
run_fl --flake "$F" eval --host h --json
expect_eq "profile.json dirty flag" true "$(jq .flake.dirty <<<"$out")"
expect_eq "profile.json rev of HEAD while dirty" "\"$rev\"" "$(jq .flake.rev <<<"$out")"

# --- commit: clean again, new rev
g "$R" commit -q -m two
rev2=$(git -C "$R" rev-parse HEAD)
run_fl --flake "$F" eval --host h --json
expect_not_contains "committed: no warning" "dirty" "$err"
expect_eq "new rev in profile.json" "\"$rev2\"" "$(jq .flake.rev <<<"$out")"
expect_eq "clean after commit" false "$(jq .flake.dirty <<<"$out")"

# --- the generation made from this commit says so
mkdir -p "$work/root"
run_fl --flake "$F" --root "$work/root" switch --host h
expect_eq "switch exit ($err)" 0 "$rc"
run_fl --root "$work/root" generations --json
expect_eq "generations exit ($err)" 0 "$rc"
expect_eq "generation's rev" "\"$rev2\"" "$(jq '.[0].rev' <<<"$out")"
expect_eq "generation's dirty flag" false "$(jq '.[0].dirty' <<<"$out")"
run_fl --root "$work/root" generations
expect_contains "generations list shows the rev" "rev ${rev2:0:12}" "$out"

# --- an untracked file in a flake outside Git is fine (nothing to hide)
cp -r "$F" "$work/plain"
cp "$F/hosts/h/notes.txt" "$work/plain/hosts/h/"
run_fl --flake "$work/plain" eval --host h --json
expect_eq "no git: exit ($err)" 0 "$rc"
expect_eq "no git: no rev" null "$(jq .flake.rev <<<"$out")"
echo "flake_git: all assertions passed"
