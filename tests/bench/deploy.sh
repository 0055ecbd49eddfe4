#!/usr/bin/env bash
# deploy.sh - deployment figures over loopback SSH (real sshd targets in their own mount
# namespaces, as in tests/e2e/lib/deploy.sh; needs root):
#   - first copy of a closure of 2000 files / ~50 MiB (FILES, KIB per file) with
#     `switch --target-host` (the copy step's own time, and the whole command) vs
#     `rsync -a -e ssh` of the same files into an empty directory on the target;
#   - a no-op redeploy (the whole command: evaluate, connect, ask, nothing to copy or do);
#   - a changed small configuration to 8 targets with -j 8 vs to one target.
# usage: FLAKECTL=build/flakectl bash tests/bench/deploy.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export FLAKECTL=${FLAKECTL:-$src/build/flakectl} FLAKECTL_SRC=$src
FILES=${FILES:-2000} KIB=${KIB:-25}
rc=0 out="" err=""
run_fl() { local o e; o=$(mktemp) e=$(mktemp); rc=0; "$FLAKECTL" "$@" >"$o" 2>"$e" || rc=$?; out=$(cat "$o") err=$(cat "$e"); rm -f "$o" "$e"; }
source "$src/tests/e2e/lib/deploy.sh"
deploy_setup
trap 'set +e; sshd_stop_all; rm -rf "$DEPLOY_WORK"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
row() { # what flakectl_s peer_s peer_name
    awk -v w="$1" -v f="$2" -v p="$3" -v n="$4" \
        'BEGIN { printf "%-46s flakectl %8.3f s   %-9s %8.3f s   ratio %.2f\n", w, f, n, p, f / p }'
}
die() { echo "bench: $*" >&2; echo "$out" >&2; echo "$err" >&2; exit 1; }

deploy_target_start big >/dev/null
T=$SSHD_TARGET port=$SSHD_PORT
mkdir -p "$DEPLOY_FLAKE/data"
for i in $(seq 1 "$FILES"); do head -c $((KIB * 1024)) /dev/urandom >"$DEPLOY_FLAKE/data/f$i"; done
deploy_write_flake "big $T \"bench\""
echo '{ ... }: { networking.hostName = "big"; environment.etc."data".source = ./data; }' >"$DEPLOY_FLAKE/big.nix"
fl_deploy build --host big --no-link
[ "$rc" = 0 ] || die "build failed"
size=$(du -sm "$DEPLOY_FLAKE/data" | cut -f1)

t0=$(now)
fl_deploy switch --host big --target-host "$T" -i "$SSHD_CLIENT_KEY" --accept-new-host-key
t1=$(now)
[ "$rc" = 0 ] || die "first deploy failed"
copy_s=$(sed -n 's/.*copied [0-9]* paths (.*) in \([0-9.]*\) s.*/\1/p' <<<"$err")
first_s=$(secs "$t0" "$t1")

# rsync of the same files into an empty directory of the target, over OpenSSH
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$(sshd_info big hostpub)")" >>"$HOME/.ssh/known_hosts"
SSH="ssh -F none -o BatchMode=yes -o UserKnownHostsFile=$HOME/.ssh/known_hosts -i $SSHD_CLIENT_KEY -p $port"
t0=$(now)
rsync -a -e "$SSH" "$DEPLOY_FLAKE/data/" "root@127.0.0.1:$DEPLOY_WORK/targets/big/rsync-dest/"
t1=$(now)
rsync_s=$(secs "$t0" "$t1")
n=$(ls "$DEPLOY_WORK/targets/big/rsync-dest" | wc -l)
[ "$n" = "$FILES" ] || die "rsync copied $n files"
echo "closure: $FILES files, $size MiB"
row "first copy (copy step)" "$copy_s" "$rsync_s" "rsync -a"
row "first deploy (whole switch --target-host)" "$first_s" "$rsync_s" "rsync -a"

t0=$(now)
fl_deploy switch --host big --target-host "$T" -i "$SSHD_CLIENT_KEY"
t1=$(now)
[ "$rc" = 0 ] || die "no-op deploy failed"
grep -q "nothing to copy" <<<"$err" || die "the no-op deploy copied something"
t2=$(now)
rsync -a -e "$SSH" "$DEPLOY_FLAKE/data/" "root@127.0.0.1:$DEPLOY_WORK/targets/big/rsync-dest/"
t3=$(now)
row "no-op redeploy (whole command)" "$(secs "$t0" "$t1")" "$(secs "$t2" "$t3")" "rsync -a"
t0=$(now)
fl_deploy build --host big --no-link
t1=$(now)
build_s=$(secs "$t0" "$t1")
printf '%-46s %8.3f s (evaluate + re-hash the 2000-file source, no SSH)\n' "  of which the local build" "$build_s"
t0=$(now)
fl_deploy switch --host big --target-host "$T" -i "$SSHD_CLIENT_KEY"
t1=$(now)
printf '%-46s %8.3f s\n' "  no-op redeploy minus the local build" "$(awk -v a="$(secs "$t0" "$t1")" -v b="$build_s" 'BEGIN { printf "%.3f", a - b }')"

# fleet: 8 targets at once vs one target, a changed small configuration each time
specs=()
for i in 1 2 3 4 5 6 7 8; do
  deploy_target_start "f$i" >/dev/null
  specs+=("f$i $SSHD_TARGET \"fleet\"")
  echo "{ ... }: { networking.hostName = \"f$i\"; environment.etc.\"v\".text = \"1\n\"; }" >"$DEPLOY_FLAKE/f$i.nix"
done
deploy_write_flake "${specs[@]}"
fl_deploy switch --on f1 -i "$SSHD_CLIENT_KEY" --accept-new-host-key
[ "$rc" = 0 ] || die "fleet warm-up (f1) failed"
fl_deploy switch --on @fleet -j 8 -i "$SSHD_CLIENT_KEY" --accept-new-host-key
[ "$rc" = 0 ] || die "fleet warm-up failed"
for i in 1 2 3 4 5 6 7 8; do sed -i 's/"1\\n"/"2\\n"/' "$DEPLOY_FLAKE/f$i.nix"; done
t0=$(now)
fl_deploy switch --on @fleet -j 8 -i "$SSHD_CLIENT_KEY"
t1=$(now)
[ "$rc" = 0 ] || die "8-target deploy failed"
grep -q "8 of 8 hosts succeeded" <<<"$err" || die "not all 8 hosts succeeded"
sed -i 's/"2\\n"/"3\\n"/' "$DEPLOY_FLAKE/f1.nix"
t2=$(now)
fl_deploy switch --on f1 -i "$SSHD_CLIENT_KEY"
t3=$(now)
[ "$rc" = 0 ] || die "one-target deploy failed"
row "8 targets -j 8 (changed config) vs 1 target" "$(secs "$t0" "$t1")" "$(secs "$t2" "$t3")" "1 target"
t0=$(now)
for i in 1 2 3 4 5 6 7 8; do fl_deploy build --host f$i --no-link; done
t1=$(now)
printf '%-46s %8.3f s (for scale: the fleet above builds them in parallel, pipelined with its deploys)\n' "  the 8 local builds one after another" "$(secs "$t0" "$t1")"
