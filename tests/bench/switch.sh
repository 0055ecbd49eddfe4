#!/usr/bin/env bash
# switch.sh - activation speed, in one run: a no-op `flakectl switch` of the example's
# homelab-node1 under --root, a switch that changes 1000 managed /etc and home files, and the
# same 1000 files applied by `ansible-playbook -c local` and linked by GNU stow. Prints each
# figure and the ratios. Not a test: timings never decide pass/fail. Installs ansible and
# stow from Debian's packages when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${FLAKECTL:-$here/build/flakectl}
N=${N:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" FLAKECTL_STATE_DIR="$work/state" FLAKECTL_ROOT="$work/root"
mkdir -p "$work/root/etc/ssh"
# The example's secrets decrypt with its example-only host key (secrets/example-identities).
install -m 0600 "$here/secrets/example-identities/homelab-node1.agekey" "$work/root/etc/ssh/ssh_host_ed25519_key"
for tool in ansible-playbook stow; do
  command -v "$tool" >/dev/null || { apt-get install -y -qq ansible stow >/dev/null 2>&1 || true; }
done
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

# 1. no-op switch of the example (an offline-ready copy: its k3s is a file:// stand-in,
# tests/e2e/lib/example.bash)
FLAKECTL_SRC=$here
source "$here/tests/e2e/lib/example.bash"
example_copy "$work/example"
"$FLAKECTL" --flake "$work/example" switch --host homelab-node1 >/dev/null
noop=$(ms "$FLAKECTL" --flake "$work/example" switch --host homelab-node1)

# 2. a flake with N /etc + home files; switch to generation A, then to B where every file changed
flake="$work/flake"
mkdir -p "$flake"
gen_flake() { # VERSION
  cat >"$flake/flake.nix" <<NIX
{ outputs = { self, ... }: { hosts.bench = { system = "x86_64-linux"; platform = "nixos";
  modules = [ ({ lib, ... }: {
    environment.etc = lib.listToAttrs (builtins.genList (i: { name = "bench/f\${toString i}.conf"; value.text = "file \${toString i} version $1\n"; }) ($N / 2));
    users.users.bench = { isNormalUser = true; uid = 1500; };
    home-manager.users.bench.home.file = lib.listToAttrs (builtins.genList (i: { name = ".config/bench/h\${toString i}"; value.text = "home \${toString i} version $1\n"; }) ($N / 2));
  }) ]; }; }; }
NIX
}
gen_flake A
"$FLAKECTL" --flake "$flake" switch --host bench >/dev/null
gen_flake B
"$FLAKECTL" --flake "$flake" build --host bench --no-link >/dev/null # build outside the timing
changed=$(ms "$FLAKECTL" --flake "$flake" switch --host bench)

# 3. ansible: the same N files as copies with content (version B after A)
mkdir -p "$work/ans"
make_playbook() { # VERSION
  {
    echo "- hosts: localhost"
    echo "  gather_facts: false"
    echo "  tasks:"
    echo "    - name: write files"
    echo "      copy: { dest: \"$work/ans/{{ item }}\", content: \"file {{ item }} version $1\\n\" }"
    echo "      loop: \"{{ range(0, $N) | list }}\""
  } >"$work/play-$1.yml"
}
make_playbook A
make_playbook B
ansible_ms=n/a
if command -v ansible-playbook >/dev/null; then
  ANSIBLE_LOCALHOST_WARNING=False ansible-playbook -c local -i localhost, "$work/play-A.yml" >/dev/null 2>&1 || true
  ansible_ms=$(ANSIBLE_LOCALHOST_WARNING=False ms ansible-playbook -c local -i localhost, "$work/play-B.yml")
fi

# 4. stow: link N files of a package directory into a target
stow_ms=n/a
if command -v stow >/dev/null; then
  mkdir -p "$work/stow/pkg/files" "$work/stow-target"
  for ((i = 0; i < N; i++)); do echo "file $i" >"$work/stow/pkg/files/f$i"; done
  stow_ms=$(ms stow -d "$work/stow" -t "$work/stow-target" pkg)
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
printf '%-44s %10s\n' "what" "ms"
printf '%-44s %10s\n' "no-op switch homelab-node1 (--root)" "$noop"
printf '%-44s %10s\n' "switch changing $N /etc + home files" "$changed"
printf '%-44s %10s   (%s slower than flakectl)\n' "ansible-playbook -c local, $N files" "$ansible_ms" "$(ratio "$ansible_ms" "$changed")"
printf '%-44s %10s   (flakectl/stow: %s)\n' "stow, $N links" "$stow_ms" "$(ratio "$changed" "${stow_ms/n\/a/0}")"
