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
#   - pull mode: the deployer pushes every host's toplevel and signed pointer to the cache
#     (file://, served by nginx) in one `cache push --host h1 --host h2 ...`, then all N
#     hosts run `flakectl pull` at once, each in its namespaces with its own store, root and
#     state (what its timer would run; converge = the last one done), against one host
#     pulling the same kind of change alone: time to converge, the pulls' own CPU, the CPU
#     floor (that CPU over the machine's cores: no schedule converges faster) and converge /
#     floor, the deployer's bytes (only its pushes to the cache, which is on this machine:
#     ~0 into the network), the bytes nginx served, and the time of the deployer's push.
# FLEET_PUSH=0 skips the push rows (and the hosts' sshd: their first state comes by pull).
# Everything (namespaces, bridge, sshd, nginx, files) is removed on exit.
# usage: FLAKECTL=build/flakectl [FLEET_HOSTS=50] [FLEET_JOBS=16] [FLEET_REPS=3] [FLEET_PUSH=0]
#        bash tests/bench/fleet.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
# absolute: the targets' sshd puts its directory on their PATH, where a relative one means
# nothing ("flakectl is not installed on hN")
FLAKECTL=$(realpath "${FLAKECTL:-$src/build/flakectl}")
export FLAKECTL FLAKECTL_SRC=$src
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
# pull rows only: the machines without their sshd
[ "${FLEET_PUSH:-1}" = 1 ] || NETNS_NO_SSHD=1
for i in $(seq 1 "$N"); do
  tags='"all"'
  [ "$i" -gt 8 ] || tags='"all" "eight"'
  echo 0 >"$DEPLOY_FLAKE/v$i"
  netns_fleet_host "h$i" "$i" "v$i" "$tags" || die "host h$i did not start"
done
deploy_write_flake "${NETNS_SPECS[@]}"
head -c 1048576 /dev/urandom >"$DEPLOY_FLAKE/blob"
echo "$N simulated hosts up in $(secs "$t0" "$(now)") s (bridge $NETNS_NET.0/24, $(nproc) cores here)"
# other work on the machine takes cores from the hosts: every figure below is read with it
load() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
echo "at the start: $(load)"
run_fl cache keygen bench-1 -o "$DEPLOY_WORK/key.sec"
pub=$out

if [ "${FLEET_PUSH:-1}" = 1 ]; then
  t0=$(now)
  fl_deploy switch --on @all -j "$J" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
  [ "$rc" = 0 ] || die "first deployment failed"
  printf '%-44s %8.3f s\n' "first deployment of $N hosts (-j $J)" "$(secs "$t0" "$(now)")"
fi

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

row() { awk -v w="$1" -v f="$2" -v p="$3" 'BEGIN { printf "%-44s %8.3f s   1 host %8.3f s   ratio %.2f\n", w, f, p, f / p }'; }

if [ "${FLEET_PUSH:-1}" = 1 ]; then
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
fi

# Pull mode. Each host pulls in its own network namespace and, as its sshd does, a mount
# namespace where the deployer's state directory is the host's own (the store paths name it).
# The namespaces are entered before the clock starts: each host's pull waits in them on a
# FIFO of its own, and the clock starts when every FIFO is opened, so the harness's `ip netns
# exec`, `unshare` and bind mount are outside the time and the CPU measured. The CPU is the
# pulls' own: each waiter is moved into a cpuacct cgroup of the bench's before the clock
# starts, so it counts from the exec of flakectl on (ns resolution); without cgroup v1's
# cpuacct, the children's clock ticks (which then include the harness's part).
purl=$NGINX_URL/p
CG=""
if [ -d /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/flakectl-fleet-$$" 2>/dev/null; then
  CG=/sys/fs/cgroup/cpuacct/flakectl-fleet-$$
  trap 'set +e; rmdir "$CG" 2>/dev/null; nginx_serve_stop; sshd_stop_all; netns_cleanup; rm -rf "$DEPLOY_WORK" 2>/dev/null; true' EXIT
fi
cpu_now() { # the pulls' CPU so far: ns from the cgroup, else the waited-for children's ticks
  if [ -n "$CG" ]; then cat "$CG/cpuacct.usage"
  else awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15 + $16 + $17) * 1e9 / hz }' /proc/$$/stat; fi
}
# pull_ready I: host hI's pull, waiting in its namespaces for its FIFO (go-hI; its pid in
# go-hI.pid once it waits); output in pull-hI.log
pull_ready() {
  local fifo=$DEPLOY_WORK/go-h$1
  rm -f "$fifo" "$fifo.pid"; mkfifo "$fifo"
  DEPLOY_NETNS=$NETNS_PREFIX-$1 target_run "h$1" /bin/sh -c \
    'echo $$ > "$1.pid.tmp" && mv "$1.pid.tmp" "$1.pid"; read _ < "$1"; shift; exec "$@"' sh "$fifo" \
    "$FLAKECTL" --state-dir "$DEPLOY_STATE" --root "$DEPLOY_WORK/targets/h$1/root" pull \
    --host "h$1" --from "$purl" --trusted-public-key "$pub" >"$DEPLOY_WORK/pull-h$1.log" 2>&1
}
# push_pointers I...: the deployer builds the hosts and pushes their closures and pointers,
# in one run (one evaluator; a path they share pushed once)
push_pointers() {
  local i args=()
  for i in "$@"; do args+=(--host "h$i"); done
  fl_deploy --quiet cache push --to "file://$DEPLOY_WORK/srv/p" --key "$DEPLOY_WORK/key.sec" "${args[@]}"
  [ "$rc" = 0 ] || die "cache push ${args[*]} failed"
  chmod -R a+rX "$DEPLOY_WORK/srv"
}
served() { awk '{ b += $10 } END { print b + 0 }' "$NGINX_LOG"; }
# pull_all I...: all of them at once; sets s (seconds from the start signal to the last one's
# end), b (the deployer's bytes into the network), sv (bytes nginx served), cpu (the pulls'
# CPU seconds)
pull_all() {
  local b0 v0 t0 t1 i pids=() bad=0 c0
  for i in "$@"; do pull_ready "$i" & pids+=($!); done
  # every waiter in its namespaces (`ip netns exec` mounts a /sys of its own, without the
  # cgroups: the waiter is moved into the bench's cgroup from here)
  for i in "$@"; do
    for _ in $(seq 1 600); do [ -e "$DEPLOY_WORK/go-h$i.pid" ] && break; sleep 0.05; done
    [ -e "$DEPLOY_WORK/go-h$i.pid" ] || die "host h$i's pull did not get ready"
    [ -z "$CG" ] || cat "$DEPLOY_WORK/go-h$i.pid" >"$CG/tasks"
  done
  b0=$(netns_tx_bytes) v0=$(served) c0=$(cpu_now)
  t0=$(now)
  for i in "$@"; do : >"$DEPLOY_WORK/go-h$i"; done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad=$((bad + 1)); done
  t1=$(now)
  cpu=$(awk -v a="$c0" -v b="$(cpu_now)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  [ "$bad" = 0 ] || { err=$(cat "$DEPLOY_WORK"/pull-h*.log | grep -v '^ ' | tail -20); die "$bad pulls failed"; }
  s=$(secs "$t0" "$t1") b=$(($(netns_tx_bytes) - b0)) sv=$(($(served) - v0))
}
t0=$(now)
push_pointers $(seq 1 "$N")
pull_all $(seq 1 "$N")
printf '%-44s %8.3f s (pushes %.3f s before)\n' "first pull of $N hosts at once" "$s" \
  "$(awk -v a="$(secs "$t0" "$(now)")" -v b="$s" 'BEGIN { print a - b }')"
p1=() pn=() pb=() pv=() pc=() c1=() push_s=() push1_s=()
for r in $(seq 1 "$REPS"); do
  change 1
  t0=$(now); push_pointers 1; push1_s+=("$(secs "$t0" "$(now)")")
  pull_all 1; p1+=("$s"); c1+=("$cpu")
  change $(seq 1 "$N")
  t0=$(now); push_pointers $(seq 1 "$N"); push_s+=("$(secs "$t0" "$(now)")")
  pull_all $(seq 1 "$N"); pn+=("$s"); pb+=("$b"); pv+=("$sv"); pc+=("$cpu")
done
q1=$(echo "${p1[@]}" | median) qn=$(echo "${pn[@]}" | median)
cpu1=$(echo "${c1[@]}" | median) cpun=$(echo "${pc[@]}" | median) cores=$(nproc)
echo "pull mode: a changed small configuration, pulled from nginx (median of $REPS):"
row "1 host pulls" "$q1" "$q1"
row "$N hosts pull at once" "$qn" "$q1"
printf '%-44s %s s per pull alone, %s s for all %s%s\n' "  CPU of the pulls (user + system)" \
  "$cpu1" "$cpun" "$N" "$([ -n "$CG" ] || echo " (clock ticks, with the harness's part)")"
# the machine cannot converge faster than its cores run the pulls' CPU
awk -v c="$cpun" -v k="$cores" -v q="$qn" -v one="$q1" -v n="$N" 'BEGIN {
  f = c / k; if (f <= 0) f = 0.001
  printf "%-44s %8.3f s   (%s s of CPU / %d cores); converge / floor %.2f\n", "  CPU floor for " n " hosts", f, c, k, q / f
  printf "%-44s %8.3f s   (3 x one host); under it needs a pull below %.1f ms of CPU here\n", "  the goal (under 3x)", 3 * one, 3 * one * k / n * 1000 }'
printf '%-44s %s (nginx served %s)\n' "  deployer's bytes into the network" \
  "$(human "$(echo "${pb[@]}" | median)")" "$(human "$(echo "${pv[@]}" | median)")"
printf '%-44s %s s for 1 host, %s s for %s (one cache push --host ... run)\n' \
  "  the deployer's push of pointers" "$(echo "${push1_s[@]}" | median)" "$(echo "${push_s[@]}" | median)" "$N"
echo "at the end: $(load)"
