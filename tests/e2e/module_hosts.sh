# module_hosts.sh - the module system end to end: the bundled example's hosts, merge
# semantics (priorities, ordering, submodules, platforms), `option`, `check`, and every
# error naming the user's file:line.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/nix.bash"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"
M="$FLAKECTL_SRC/tests/module"

# --- the bundled example: all four hosts evaluate and pass check (offline: the copy's k3s
# is a stand-in, lib/example.bash)
source "$(dirname "$0")/lib/example.bash"
example_copy "$work/example"
run_fl --flake "$work/example" check
expect_eq "check exit" 0 "$rc"
for h in homelab-node1 homelab-node2 macbook wsl; do expect_contains "check lists $h" "ok   $h" "$out"; done
expect_contains "check summary" "4 hosts checked" "$out"
expect_contains "check summary" "4 passed, 0 failed" "$out"

run_fl --flake "$FLAKECTL_SRC" eval --host homelab-node1 networking.hostName
expect_eq "node1 hostName" '"homelab-node1"' "$out"
run_fl --flake "$FLAKECTL_SRC" eval --host homelab-node2 homelab.k3s.role
expect_eq "node2 role" '"agent"' "$out"
run_fl --flake "$FLAKECTL_SRC" eval --host macbook home-manager.users.alice.home.sessionPath --json
expect_eq "darwin PATH" '["/Users/alice/.local/bin","/opt/homebrew/bin","/opt/homebrew/sbin"]' "$out"
run_fl --flake "$FLAKECTL_SRC" eval --host wsl home-manager.users.alice.home.sessionPath --json
expect_eq "wsl PATH" '["/home/alice/.local/bin","/run/flakectl/current/sw/bin","/mnt/c/Windows/System32","/mnt/c/Windows"]' "$out"
run_fl --flake "$FLAKECTL_SRC" eval --host homelab-node1 users.users.alice.extraGroups --json
expect_eq "linux-only group" '["admins","wheel"]' "$out"
run_fl --flake "$FLAKECTL_SRC" eval --host macbook users.users.alice.extraGroups --json
expect_eq "no wheel on darwin" '["admins"]' "$out"

# --- merge semantics, and the same values nix-instantiate computes with the same lib
run_fl --flake "$M/merge" eval --host linux test --json
expect_eq "merge eval exit" 0 "$rc"
linux_json=$out
expect_contains "mkBefore/mkAfter order" '"list":["b-first","a1","a2","b-last"]' "$out"
expect_contains "mkForce beats a plain definition" '"forced":7' "$out"
expect_contains "plain beats mkDefault" '"scalar":"from-b"' "$out"
expect_contains "lines joined in order" '"lines":"line from a\nlinux line from b"' "$out"
expect_contains "submodule defaults from name and config" '"url":"http://web:8080"' "$out"
expect_contains "submodule lists merge per key" '"tags":["a","b"]' "$out"
expect_contains "mkIf true on linux" '"port":5432' "$out"
run_fl --flake "$M/merge" eval --host mac test.servers.db.port
expect_eq "mkIf false leaves the default" 80 "$out"
run_fl --flake "$M/merge" eval --host wsl test.platform
expect_eq "platform switch" '"wsl"' "$out"
if have_nix; then
  bundled=$(ls "$FLAKECTL_SRC"/src/module/bundled/*.nix | sed 's/.*/&/' | tr '\n' ' ')
  expr="let r = import $FLAKECTL_SRC/src/module/nix/host.nix { flakeDir = $M/merge; hostName = \"linux\"; bundledModules = [ $bundled ]; }; in r.config.test"
  nix_json=$(nixo nix-instantiate --eval --strict --json -E "$expr")
  expect_eq "flakectl and nix-instantiate agree on the merged config" "$nix_json" "$linux_json"
fi

# --- option
run_fl --flake "$FLAKECTL_SRC" option --host homelab-node1 homelab.k3s.role
expect_eq "option exit" 0 "$rc"
expect_contains "option value" '"server"' "$out"
expect_contains "option type" 'one of "server", "agent"' "$out"
expect_contains "option default" '"agent"' "$out"
expect_contains "option declared in" "modules/server/k3s.nix:29:5" "$out"
expect_contains "option defined in" "hosts/homelab-node1/default.nix:8:5" "$out"
run_fl --flake "$FLAKECTL_SRC" option --host homelab-node1 home-manager.users.alice.programs.git.userName
expect_contains "option inside a submodule" '"Alice Admin"' "$out"
expect_contains "defined in home/git.nix" "home/git.nix:6:5" "$out"
run_fl --flake "$FLAKECTL_SRC" option --host homelab-node1 homelab.k3
expect_eq "unknown option exit" 1 "$rc"
expect_contains "unknown option lists siblings" "k3s" "$err"

# --- errors name the user's definitions
E="$M/errors"
run_fl --flake "$E/conflict" check
expect_eq "conflict exit" 1 "$rc"
expect_contains "conflict names the option" "networking.hostName" "$err"
expect_contains "conflict first definition" "conflict/m1.nix:3:3" "$err"
expect_contains "conflict second definition" "conflict/m2.nix:3:3" "$err"
expect_contains "check summary on failure" "1 host checked" "$out"
expect_contains "check summary on failure" "0 passed, 1 failed" "$out"

run_fl --flake "$E/undeclared" eval --host h networking
expect_eq "undeclared exit" 1 "$rc"
expect_contains "undeclared names the option" "networking.hostNme" "$err"
expect_contains "undeclared location" "undeclared/m2.nix:3:3" "$err"
expect_contains "undeclared suggestion" "did you mean 'hostName'" "$err"

run_fl --flake "$E/typeerr" eval --host h users
expect_eq "type error exit" 1 "$rc"
expect_contains "type error names the option" "users.users.bob.uid" "$err"
expect_contains "type error expected type" "account id (0 to 4294967294, not 65535)" "$err"
expect_contains "type error actual type" "a string" "$err"
expect_contains "type error location" "typeerr/m2.nix:3:3" "$err"

run_fl --flake "$E/assertion" check
expect_eq "assertion exit" 1 "$rc"
expect_contains "assertion message" "the host name must be 'expected'" "$err"
expect_contains "assertion file" "assertion/m1.nix:3:3" "$err"

run_fl --flake "$E/badmkif" eval --host h networking.hostName
expect_eq "bad mkIf exit" 1 "$rc"
expect_contains "bad mkIf message" "not a Boolean" "$err"
expect_contains "bad mkIf location" "badmkif/m1.nix:3:3" "$err"

run_fl --flake "$E/nohost" eval --host nosuch networking.hostName
expect_eq "missing host exit" 1 "$rc"
expect_contains "missing host named" "no host 'nosuch'" "$err"
expect_contains "missing host lists the hosts" "one of: h" "$err"

run_fl --flake "$work/none" check
expect_eq "missing flake exit" 1 "$rc"
expect_contains "missing flake" "holds no flake.nix" "$err"
echo "module_hosts: all assertions passed"
