#!/usr/bin/env bash
# fleet.sh - fleet figures over simulated machines (needs root, iproute2, nginx): N hosts
# (FLEET_HOSTS, default 50), each a network namespace with its own address on a private
# bridge, its own sshd on port 22, store, root and state directory (tests/e2e/lib/netns.bash).
# Rows, each the median of FLEET_REPS (default 3) runs of the whole `switch --on` command,
# beside one host alone in the same run:
#   - the same small change to 1 host, to 8 hosts with -j 8 (issue 16's goal: within 3x of
#     one host), and to all N with -j J (FLEET_JOBS, default 16);
#   - a new 1 MiB file to all N with -j J, copied over SSH, vs fetched by each target from a
#     binary cache (nginx on a machine of its own) with the deployer sending only the rest:
#     time to converge and the deployer's bytes into the network (the bridge's counter).
# Everything (namespaces, bridge, sshd, nginx, files) is removed on exit.
# usage: FLAKECTL=build/flakectl [FLEET_HOSTS=50] [FLEET_JOBS=16] [FLEET_REPS=3] bash tests/bench/fleet.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export FLAKECTL=${FLAKECTL:-$src/build/flakectl} FLAKECTL_SRC=$src
N=${FLEET_HOSTS:-50} J=${FLEET_JOBS:-16} REPS=${FLEET_REPS:-3}
[ "$(id -u)" = 0 ] || { echo "fleet.sh: needs root (network namespaces)" >&2; exit 77; }
rc=0 out="" err=""
run_fl() { local o e; o=$(mktemp) e=$(mktemp); rc=0; "$FLAKECTL" "$@" >"$o" 2>"$e" || rc=$?; out=$(cat "$o") err=$(cat "$e"); rm -f "$o" "$e"; }
source "$src/tests/e2e/lib/deploy.sh"
source "$src/tests/e2e/lib/netns.bash"
netns_fleet_setup
die() { echo "bench: $*" >&2; echo "$err" | tail -20 >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.1f KiB", b / 1024 }'; }

t0=$(now)
for i in $(seq 1 "$N"); do
  tags='"all"'
  [ "$i" -gt 8 ] || tags='"all" "eight"'
  echo 0 >"$DEPLOY_FLAKE/v$i"
  netns_fleet_host "h$i" "$i" "v$i" "$tags" || die "host h$i did not start"
done
deploy_write_flake "${NETNS_SPECS[@]}"
head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
echo "$N simulated hosts up in $(secs "$t0" "$(now)") s (bridge $NETNS_NET.0/24, $(nproc) cores here)"
run_fl cache keygen bench-1 -o "$DEPLOY_WORK/key.sec"
pub=$out

t0=$(now)
fl_deploy switch --on @all -j "$J" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
[ "$rc" = 0 ] || die "first deployment failed"
printf '%-44s %8.3f s\n' "first deployment of $N hosts (-j $J)" "$(secs "$t0" "$(now)")"

gen=0
# deploy SEL JOBS [ARGS...]: one timed switch; sets s (seconds) and b (the deployer's bytes)
deploy() {
  local sel=$1 jobs=$2 b0 t0 t1
  shift 2
  b0=$(netns_tx_bytes)
  t0=$(now)
  fl_deploy switch --on "$sel" -j "$jobs" -i "$SSHD_CLIENT_KEY" "$@"
  t1=$(now)
  [ "$rc" = 0 ] || die "switch --on $sel failed"
  s=$(secs "$t0" "$t1") b=$(($(netns_tx_bytes) - b0))
}
# change WHICH...: a new value of v for those hosts
change() { gen=$((gen + 1)); local i; for i in "$@"; do echo "$gen" >"$DEPLOY_FLAKE/v$i"; done; }

one=() eight=() all=() bytes_one=() bytes_all=()
for r in $(seq 1 "$REPS"); do
  change 1
  deploy h1 1; one+=("$s"); bytes_one+=("$b")
  change $(seq 1 8)
  deploy @eight 8; eight+=("$s")
  change $(seq 1 "$N")
  deploy @all "$J"; all+=("$s"); bytes_all+=("$b")
done
s1=$(echo "${one[@]}" | median) s8=$(echo "${eight[@]}" | median) sn=$(echo "${all[@]}" | median)
row() { awk -v w="$1" -v f="$2" -v p="$3" 'BEGIN { printf "%-44s %8.3f s   1 host %8.3f s   ratio %.2f\n", w, f, p, f / p }'; }
echo "a changed small configuration (median of $REPS; whole command):"
row "1 host" "$s1" "$s1"
row "8 hosts -j 8" "$s8" "$s1"
row "$N hosts -j $J" "$sn" "$s1"
printf '%-44s %s per host (1 host alone: %s)\n' "  deployer's bytes into the network" \
  "$(human $(($(echo "${bytes_all[@]}" | median) / N)))" "$(human "$(echo "${bytes_one[@]}" | median)")"

ssh_s=() ssh_b=() cache_s=() cache_b=()
for r in $(seq 1 "$REPS"); do
  head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
  deploy @all "$J"; ssh_s+=("$s"); ssh_b+=("$b")
  head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
  fl_deploy --quiet cache push --to "file://$DEPLOY_WORK/srv/c" --key "$DEPLOY_WORK/key.sec" --host h1
  [ "$rc" = 0 ] || die "cache push failed"
  chmod -R a+rX "$DEPLOY_WORK/srv"
  deploy @all "$J" --substituters "$NGINX_URL/c" --trusted-public-key "$pub"
  grep -q "the target fetched" <<<"$err" || die "the targets did not fetch from the cache"
  cache_s+=("$s"); cache_b+=("$b")
done
ss=$(echo "${ssh_s[@]}" | median) sc=$(echo "${cache_s[@]}" | median)
bs=$(echo "${ssh_b[@]}" | median) bc=$(echo "${cache_b[@]}" | median)
echo "a new 1 MiB file to $N hosts -j $J (median of $REPS):"
awk -v a="$ss" -v b="$sc" -v c="$s1" -v n="$N" \
  'BEGIN { printf "%-44s %8.3f s   targets fetch from the cache %8.3f s   ratio %.2f\n", "copied over SSH", a, b, b / a;
           printf "%-44s %8.2f x one host (%.3f s, a small change)\n", "  through the cache, time to converge", b / c, c }'
printf '%-44s over SSH %s, through the cache %s (ratio %.3f)\n' "  deployer's bytes into the network" \
  "$(human "$bs")" "$(human "$bc")" "$(awk -v a="$bc" -v b="$bs" 'BEGIN { printf "%.3f", a / b }')"
