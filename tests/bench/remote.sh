#!/usr/bin/env bash
# remote.sh - flakectl's SSH layer beside OpenSSH's ssh client, against the same test sshd on
# 127.0.0.1: 20 connect+`true` round trips, 20 `true`s over one connection, and a 100 MiB
# stdin stream into `cat >/dev/null`. Prints each figure, the peer's, and the ratio.
# usage: FLAKECTL=build/flakectl bash tests/bench/remote.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${FLAKECTL:-$src/build/flakectl}
source "$src/tests/e2e/lib/sshd.sh"

sshd_work
mkdir -p "$HOME/.ssh"
sshd_start bench >/dev/null
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >"$HOME/.ssh/known_hosts"
FL=("$FLAKECTL" remote-exec --ssh-config none --target-host "$SSHD_TARGET" -i "$SSHD_CLIENT_KEY")
SSH=(ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes
     -o UserKnownHostsFile="$HOME/.ssh/known_hosts" -i "$SSHD_CLIENT_KEY" -p "$SSHD_PORT"
     root@127.0.0.1)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
row() { # what flakectl_s peer_s peer_name
    awk -v w="$1" -v f="$2" -v p="$3" -v n="$4" \
        'BEGIN { printf "%-44s flakectl %8.3f s   %-4s %8.3f s   ratio %.2f\n", w, f, n, p, f / p }'
}

"${FL[@]}" -n -- true && "${SSH[@]}" true </dev/null # warm up both

t0=$(now); for _ in $(seq 20); do "${FL[@]}" -n -- true; done; t1=$(now)
for _ in $(seq 20); do "${SSH[@]}" true </dev/null; done; t2=$(now)
ssh20=$(secs "$t1" "$t2")
row "20 x (connect + true)" "$(secs "$t0" "$t1")" "$ssh20" ssh

# the same 20 commands over one connection (flakectl's deploy path) vs ssh's 20 connections
t0=$(now); "${FL[@]}" -n --repeat 20 -- true; t1=$(now)
row "20 x true over one connection" "$(secs "$t0" "$t1")" "$ssh20" ssh

head -c $((100 * 1024 * 1024)) /dev/urandom >"$work/100m"
t0=$(now); "${FL[@]}" -- 'cat >/dev/null' <"$work/100m"; t1=$(now)
"${SSH[@]}" 'cat >/dev/null' <"$work/100m"; t2=$(now)
f=$(secs "$t0" "$t1") p=$(secs "$t1" "$t2")
row "100 MiB stdin -> cat >/dev/null" "$f" "$p" ssh
awk -v f="$f" -v p="$p" 'BEGIN { printf "%-44s flakectl %8.1f MiB/s  ssh %8.1f MiB/s\n", "  throughput", 100 / f, 100 / p }'
t0=$(now); "${FL[@]}" -n -- 'head -c 104857600 /dev/zero' >/dev/null; t1=$(now)
"${SSH[@]}" 'head -c 104857600 /dev/zero' </dev/null >/dev/null; t2=$(now)
row "100 MiB stdout <- head -c" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" ssh
