# flake_inputs.sh - inputs and flake.lock with real git repositories: lock on first use (rev
# and narHash checked against git and nix-hash), update, lock, --override-input,
# --no-write-lock-file, offline re-evaluation from the cache, and narHash mismatches.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
g() { git -C "$1" "${@:2}" >/dev/null 2>&1 || fail "git $*"; }
sri() { echo "sha256-$(nixo nix-hash --type sha256 "$1" | xxd -r -p | base64)"; }

# --- a flake input (a module library) and a plain source input, each its own repository
mkdir -p "$work/src/modules" "$work/dot" "$work/flake/local"
cat >"$work/src/flake.nix" <<'NIX'
{
  outputs = { self }: {
    greeting = import ./greeting.nix;
    nixosModules.motd = { ... }: { environment.etc."motd".text = "from shared: ${self.greeting}"; };
  };
}
NIX
echo '"hello-1"' >"$work/src/greeting.nix"
g "$work/src" init -q -b main
g "$work/src" add -A
g "$work/src" commit -q -m one
rev1=$(git -C "$work/src" rev-parse HEAD)
echo "[user] name = alice" >"$work/dot/gitconfig"
g "$work/dot" init -q -b main
g "$work/dot" add -A
g "$work/dot" commit -q -m dot
dotrev=$(git -C "$work/dot" rev-parse HEAD)
echo "local-1" >"$work/flake/local/value"

F="$work/flake"
cat >"$F/flake.nix" <<NIX
{
  inputs = {
    shared.url = "git+file://$work/src";
    dot = { url = "git+file://$work/dot"; flake = false; };
    local = { url = "path:./local"; flake = false; };
  };
  outputs = { self, shared, dot, local, ... }: {
    hosts.h = {
      system = "x86_64-linux";
      platform = "nixos";
      modules = [
        shared.nixosModules.motd
        ({ ... }: {
          networking.hostName = shared.greeting;
          environment.etc."dot".text = builtins.readFile "\${dot}/gitconfig";
          environment.etc."revs".text = "\${dot.rev} \${dot.shortRev} \${toString dot.lastModified} \${shared.narHash}";
          environment.etc."local".text = builtins.readFile "\${local}/value";
        })
      ];
    };
  };
}
NIX

# --- lock on first use
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "first eval exit ($err)" 0 "$rc"
expect_eq "flake input's outputs" '"hello-1"' "$out"
expect_contains "lock message shared" "flakectl: locked input 'shared' at $rev1" "$err"
expect_contains "lock message dot" "flakectl: locked input 'dot' at $dotrev" "$err"
expect_contains "lock message local" "flakectl: locked input 'local' at sha256-" "$err"
[ -f "$F/flake.lock" ] || fail "flake.lock was not written"
L="$F/flake.lock"
expect_eq "lock version" 7 "$(jq .version "$L")"
expect_eq "lock root" '"root"' "$(jq .root "$L")"
expect_eq "root inputs" '{"dot":"dot","local":"local","shared":"shared"}' "$(jq -c .nodes.root.inputs "$L")"
expect_eq "locked rev" "\"$rev1\"" "$(jq .nodes.shared.locked.rev "$L")"
expect_eq "locked type" '"git"' "$(jq .nodes.shared.locked.type "$L")"
expect_eq "locked url" "\"file://$work/src\"" "$(jq .nodes.shared.locked.url "$L")"
expect_eq "original" "{\"type\":\"git\",\"url\":\"file://$work/src\"}" "$(jq -c .nodes.shared.original "$L")"
expect_eq "lastModified = commit time" "$(git -C "$work/src" log -1 --format=%ct)" "$(jq .nodes.shared.locked.lastModified "$L")"
mkdir "$work/export"
git -C "$work/src" archive HEAD | tar -x -C "$work/export"
expect_eq "narHash = nix-hash of the tree" "\"$(sri "$work/export")\"" "$(jq .nodes.shared.locked.narHash "$L")"
expect_eq "path narHash = nix-hash" "\"$(sri "$F/local")\"" "$(jq .nodes.local.locked.narHash "$L")"
expect_eq "flake = false recorded" false "$(jq .nodes.dot.flake "$L")"
expect_eq "no flake key for a flake" null "$(jq .nodes.shared.flake "$L")"
expect_eq "path original" '{"path":"./local","type":"path"}' "$(jq -cS .nodes.local.original "$L")"
expect_eq "sorted keys, 2-space indent, newline" "$(jq -S --indent 2 . "$L")" "$(cat "$L")"
[ "$(tail -c 1 "$L" | od -An -c | tr -d ' ')" = '\n' ] || fail "lock file lacks a trailing newline"
run_fl --flake "$F" eval --host h environment.etc.revs.text
expect_contains "rev, shortRev, lastModified exposed" "$dotrev ${dotrev:0:7} $(git -C "$work/dot" log -1 --format=%ct)" "$out"
expect_contains "narHash exposed" "$(sri "$work/export")" "$out"
run_fl --flake "$F" eval --host h environment.etc.motd.text
expect_eq "module from the input" '"from shared: hello-1"' "$out"
run_fl --flake "$F" eval --host h environment.etc.dot.text
expect_eq "plain input's file" '"[user] name = alice\n"' "$out"

# --- a second evaluation uses the lock and writes nothing
sum=$(md5sum <"$L")
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "second eval" '"hello-1"' "$out"
expect_not_contains "no lock message the second time" "locked input" "$err"
expect_eq "lock untouched" "$sum" "$(md5sum <"$L")"

# --- a new upstream commit changes nothing until update
echo '"hello-2"' >"$work/src/greeting.nix"
g "$work/src" commit -q -am two
rev2=$(git -C "$work/src" rev-parse HEAD)
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "still locked at rev1" '"hello-1"' "$out"
run_fl --flake "$F" update shared
expect_eq "update exit ($err)" 0 "$rc"
expect_eq "update prints old → new" "shared: $rev1 → $rev2" "$out"
expect_eq "update moved the rev" "\"$rev2\"" "$(jq .nodes.shared.locked.rev "$L")"
expect_eq "update left dot alone" "\"$dotrev\"" "$(jq .nodes.dot.locked.rev "$L")"
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "eval after update" '"hello-2"' "$out"
run_fl --flake "$F" update
expect_contains "update all: unchanged inputs say so" "dot: $dotrev (unchanged)" "$out"
run_fl --flake "$F" update nosuch
expect_eq "update of an unknown input (usage)" 2 "$rc"
expect_contains "update names the unknown input" "no input 'nosuch'" "$err"

# --- --override-input: this run only, flake.lock untouched
mkdir -p "$work/other"
cp "$work/src/flake.nix" "$work/other/"
echo '"overridden"' >"$work/other/greeting.nix"
sum=$(md5sum <"$L")
run_fl --flake "$F" --override-input shared "$work/other" eval --host h networking.hostName
expect_eq "override exit ($err)" 0 "$rc"
expect_eq "override value" '"overridden"' "$out"
expect_eq "override leaves the lock" "$sum" "$(md5sum <"$L")"
run_fl --flake "$F" --override-input shared "git+file://$work/src?rev=$rev1" eval --host h networking.hostName
expect_eq "override with a git rev" '"hello-1"' "$out"
run_fl --flake "$F" --override-input nosuch /tmp eval --host h networking.hostName
expect_eq "override unknown input (usage)" 2 "$rc"
expect_contains "override names the input" "no input 'nosuch'" "$err"

# --- offline: the source repository is gone; the cache and the store suffice
mv "$work/src" "$work/src.away"
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "offline eval (store) ($err)" 0 "$rc"
expect_eq "offline value" '"hello-2"' "$out"
run_fl --flake "$F" --state-dir "$work/state2" eval --host h networking.hostName
expect_eq "offline eval from the git cache, fresh store ($err)" 0 "$rc"
expect_eq "offline value from the cache" '"hello-2"' "$out"
XDG_CACHE_HOME="$work/cache2" run_fl --flake "$F" --state-dir "$work/state3" eval --host h networking.hostName
expect_eq "no cache, no source" 1 "$rc"
expect_contains "the error names the URL" "file://$work/src" "$err"
mv "$work/src.away" "$work/src"

# --- narHash mismatch: a lock that does not match the content is refused, naming both
good=$(jq -r .nodes.shared.locked.narHash "$L")
bad="sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
cp "$L" "$work/lock.good"
jq --indent 2 -S ".nodes.shared.locked.narHash = \"$bad\"" "$work/lock.good" >"$L"
run_fl --flake "$F" --state-dir "$work/state4" eval --host h networking.hostName
expect_eq "tampered exit" 1 "$rc"
expect_contains "mismatch names the input" "input 'shared': NAR hash mismatch" "$err"
expect_contains "mismatch names the locked hash" "$bad" "$err"
expect_contains "mismatch names the content's hash" "$good" "$err"
cp "$work/lock.good" "$L"

# a path input whose content changed since it was locked
echo "local-2" >"$F/local/value"
run_fl --flake "$F" eval --host h environment.etc.local.text
expect_eq "changed path exit" 1 "$rc"
expect_contains "changed path named" "input 'local': NAR hash mismatch" "$err"
expect_contains "changed path hint" "flakectl update local" "$err"
run_fl --flake "$F" update local
expect_eq "update local exit ($err)" 0 "$rc"
run_fl --flake "$F" eval --host h environment.etc.local.text
expect_eq "path after update" '"local-2\n"' "$out"

# --- --no-write-lock-file refuses to lock; `lock` locks missing inputs only
g "$work/src" checkout -q -b feature
echo '"feature"' >"$work/src/greeting.nix"
g "$work/src" commit -q -am feature
featrev=$(git -C "$work/src" rev-parse HEAD)
sed -i "s|local = {|feat.url = \"git+file://$work/src?ref=feature\";\n    local = {|" "$F/flake.nix"
sum=$(md5sum <"$L")
run_fl --flake "$F" --no-write-lock-file eval --host h networking.hostName
expect_eq "no-write-lock-file exit" 1 "$rc"
expect_contains "no-write-lock-file names the input" "input 'feat' is not locked" "$err"
expect_contains "no-write-lock-file hint" "flakectl lock" "$err"
expect_eq "no-write-lock-file leaves the lock" "$sum" "$(md5sum <"$L")"
run_fl --flake "$F" lock
expect_eq "lock exit ($err)" 0 "$rc"
expect_contains "lock message" "locked input 'feat' at $featrev" "$err"
expect_not_contains "lock leaves locked inputs" "'shared'" "$err"
expect_eq "ref recorded" '"feature"' "$(jq .nodes.feat.original.ref "$L")"
expect_eq "shared still at rev2" "\"$rev2\"" "$(jq .nodes.shared.locked.rev "$L")"
run_fl --flake "$F" --no-write-lock-file eval --host h networking.hostName
expect_eq "complete lock + --no-write-lock-file ($err)" 0 "$rc"

# --- a flake input without flake.nix
sed -i 's|local = { url = "path:./local"; flake = false; };|local.url = "path:./local";|' "$F/flake.nix"
sum=$(md5sum <"$L")
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "flake input without flake.nix" 1 "$rc"
expect_contains "no flake.nix named" "input 'local' (path:./local) has no flake.nix" "$err"
expect_contains "no flake.nix hint" "inputs.local.flake = false" "$err"
expect_eq "a failed lock leaves flake.lock" "$sum" "$(md5sum <"$L")"
sed -i 's|local.url = "path:./local";|local = { url = "path:./local"; flake = false; };|' "$F/flake.nix"

# --- bad URLs
sed -i "s|feat.url = \"git+file://$work/src?ref=feature\"|feat.url = \"github:me/repo\"|" "$F/flake.nix"
run_fl --flake "$F" eval --host h networking.hostName
expect_eq "unsupported URL exit" 1 "$rc"
expect_contains "unsupported URL named" "input 'feat': unsupported URL 'github:me/repo'" "$err"
expect_contains "unsupported URL location" "flake.nix:" "$err"
echo "flake_inputs: all assertions passed"
