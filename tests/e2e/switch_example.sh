# switch_example.sh - the whole path a user takes: build the bundled example's homelab-node1
# from its flake, switch to it under --root, change the flake, switch again, roll back.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$work/root"
mkdir -p "$work/root"
flake="$work/flake"
source "$(dirname "$0")/lib/example.bash"
example_copy "$flake"

# The example's demo host key (secrets/example-identities, labelled example-only) stands in for
# the machine's ssh host key, where age.identityPaths looks by default.
mkdir -p "$work/root/etc/ssh"
install -m 0600 "$flake/secrets/example-identities/homelab-node1.agekey" "$work/root/etc/ssh/ssh_host_ed25519_key"
run_fl --flake "$flake" switch --host homelab-node1
[ "$rc" = 0 ] || echo "$out$err" >&2
expect_eq "first switch exit" 0 "$rc"
expect_eq "k3s token decrypted" "$(age -d -i "$flake/secrets/example-identities/homelab-node1.agekey" "$flake/secrets/k3s-token.age")" "$(cat "$work/root/run/flakectl/secrets/k3s-token")"
expect_eq "wireguard key mode" "400" "$(stat -c %a "$work/root/run/flakectl/secrets/wireguard-key")"
expect_eq "store and state hold no plaintext" "" "$(grep -rlF "$(cat "$work/root/run/flakectl/secrets/k3s-token")" "$work/state" || true)"
expect_contains "first switch makes generation 1" "generation 1 is the default" "$out"
expect_eq "motd linked through /etc/static" "/etc/static/motd" "$(readlink "$work/root/etc/motd")"
expect_contains "motd content" "homelab-node1 (nixos, x86_64-linux)" "$(cat "$work/root/etc/static/motd")"
expect_contains "k3s config rendered" "node-name: homelab-node1" "$(cat "$work/root/etc/static/rancher/k3s/config.yaml")"
expect_contains "alice in passwd" "alice:x:1000:" "$(cat "$work/root/etc/passwd")"
expect_contains "git config in alice's home" "name = Alice Admin" "$(cat "$work/root/home/alice/.config/git/config")"
expect_contains "bash aliases" "alias gs='git status'" "$(cat "$work/root/home/alice/.bashrc")"
current=$(readlink -f "$work/root/run/flakectl/current")
expect_contains "current is a toplevel in the store" "$work/state/store/" "$current"
expect_eq "units rendered" "yes" "$([ -f "$current/units/k3s.service" ] && echo yes)"
expect_contains "k3s runs the store's binary" "$work/state/store/" "$(grep ExecStart "$current/units/k3s.service")"
expect_contains "k3s binary path" "/bin/k3s server --disable=traefik" "$(grep ExecStart "$current/units/k3s.service")"
expect_eq "k3s linked into sw/bin" "k3s stand-in version" "$("$current/sw/bin/k3s" version)"

# An unchanged flake builds nothing new and gives the same path.
run_fl --flake "$flake" build --host homelab-node1 --no-link
expect_eq "rebuild exit" 0 "$rc"
expect_eq "rebuild gives the current toplevel" "$current" "$out"
paths_before=$(ls "$work/state/db" | wc -l)
run_fl --flake "$flake" build --host homelab-node1 --no-link
expect_eq "second rebuild same path" "$current" "$out"
expect_eq "second rebuild registered nothing" "$paths_before" "$(ls "$work/state/db" | wc -l)"
# The toplevel references every file it links, so GC keeps what the active system uses.
run_fl store path-info --closure "$current"
expect_contains "closure holds the motd file" "-etc-motd" "$out"
run_fl gc
expect_eq "gc exit" 0 "$rc"
run_fl store verify --check-contents
expect_eq "store verifies after gc" 0 "$rc"
expect_contains "motd readable after gc" "homelab-node1 (nixos" "$(cat "$work/root/etc/static/motd")"

run_fl --flake "$flake" switch --host homelab-node1
expect_eq "second switch exit" 0 "$rc"
expect_contains "unchanged flake: nothing to do" "nothing to do" "$out"

# Change the flake: the motd text and a new /etc file.
sed -i 's|managed by flakectl|managed by flakectl (edited)|' "$flake/modules/common/default.nix"
sed -i 's|environment.etc."hostname-note".text = "the control plane lives here\\n";|environment.etc."hostname-note".text = "moved\\n"; environment.etc."added".text = "new\\n";|' "$flake/hosts/homelab-node1/default.nix"
run_fl --flake "$flake" dry-activate --host homelab-node1
expect_eq "dry-activate exit" 0 "$rc"
expect_contains "plan shows the motd change" "managed by flakectl (edited)" "$out"
expect_contains "plan shows the added file" "/etc/added" "$out"
motd_now=$(cat "$work/root/etc/static/motd")
expect_contains "motd still there" "managed by flakectl" "$motd_now"
expect_not_contains "dry-activate changed nothing" "(edited)" "$motd_now"
run_fl --flake "$flake" switch --host homelab-node1
expect_eq "third switch exit" 0 "$rc"
expect_contains "generation 2" "generation 2 is the default" "$out"
expect_contains "motd updated" "(edited)" "$(cat "$work/root/etc/static/motd")"
expect_eq "added file" "new" "$(cat "$work/root/etc/static/added")"

run_fl rollback
expect_eq "rollback exit" 0 "$rc"
motd_now=$(cat "$work/root/etc/static/motd")
expect_contains "motd after rollback" "managed by flakectl" "$motd_now"
expect_not_contains "rollback restored the motd" "(edited)" "$motd_now"
expect_eq "rollback removed the added file" "no" "$( { [ -e "$work/root/etc/added" ] || [ -L "$work/root/etc/added" ]; } && echo yes || echo no)"
run_fl generations
expect_contains "generations lists both" "   2 " "$out"

# A host the flake does not have: clear error, nothing changes.
before=$(readlink "$work/root/run/flakectl/current")
run_fl --flake "$flake" switch --host nosuch
expect_eq "unknown host exit" 1 "$rc"
expect_contains "unknown host lists hosts" "homelab-node1, homelab-node2, macbook, wsl" "$err"
expect_eq "current unchanged" "$before" "$(readlink "$work/root/run/flakectl/current")"

# A toplevel whose closure is not fully registered (a crash, a partial copy) is refused
# before anything changes.
run_fl --flake "$flake" build --host homelab-node2 --out-link "$work/node2"
expect_eq "node2 build exit" 0 "$rc"
motd_hash=$(basename "$(readlink -f "$work/node2/etc/motd")" | cut -c1-32)
rm "$work/state/db/$motd_hash.json"
before=$(readlink "$work/root/run/flakectl/current")
run_fl activate "$work/node2" --mode switch
expect_eq "unregistered closure exit" 1 "$rc"
expect_contains "unregistered path named" "etc-motd is not valid (not registered)" "$err"
expect_eq "nothing activated" "$before" "$(readlink "$work/root/run/flakectl/current")"
echo "switch_example: all assertions passed"
