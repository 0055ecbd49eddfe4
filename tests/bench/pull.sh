#!/usr/bin/env bash
# Pull mode benchmark: the no-op `flakectl pull` (the host already runs the pointer's
# generation: one HTTP request for hosts/H, signature check, compare) against, in the same
# run and from the same nginx:
#   - curl fetching the same pointer (the one request alone),
#   - `nix copy --from http://…` of a path already valid in nix's store (Nix 2.8's no-op),
#   - `flakectl version` (the process's own start-up).
# Also the first pull (substitute + activate a small host) once. Prints the median and best
# of REPS runs and the ratios. Goal (issue 16): no-op pull under 100 ms plus one request.
# Never fails on timing.
# usage: [REPS=30] tests/bench/pull.sh [path/to/flakectl]   (default: build/flakectl)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${1:-${FLAKECTL:-$src/build/flakectl}}
REPS=${REPS:-30}
oracle=$src/tests/lib/nix-oracle
source "$src/tests/e2e/lib/nginx-serve.bash"
work=$(mktemp -d)
chmod 755 "$work"
trap 'nginx_serve_stop; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
root="$work/root"
mkdir -p "$root" "$work/flake"
cat > "$work/flake/flake.nix" <<'EOF'
{ outputs = { self, ... }: { hosts.h1 = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./h1.nix ]; }; }; }
EOF
cat > "$work/flake/h1.nix" <<'EOF'
{ pkgs, ... }: {
  environment.etc."greeting".text = "hello\n";
  environment.etc."motd".source = pkgs.writeText "motd" "welcome\n";
  users.users.alice = { isNormalUser = true; uid = 1000; };
}
EOF
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }
pub=$(fl cache keygen bench-1 -o "$work/key.sec")
fl --flake "$work/flake" cache push --to "file://$work/srv/cache" --key "$work/key.sec" --host h1
top=$(sed -n 's/^StorePath: //p' "$work/srv/cache/hosts/h1")
chmod -R a+rX "$work/srv"
mv "$state" "$work/state.deployer"
nginx_serve "$work/srv" || exit $?
url="http://127.0.0.1:$NGINX_PORT/cache"
pull() { "$FLAKECTL" --quiet --state-dir "$state" --root "$root" pull --host h1 --from "$url" --trusted-public-key "$pub"; }

t0=$(date +%s%N)
pull > /dev/null
t1=$(date +%s%N)
first=$(((t1 - t0) / 1000000))
pull | grep -q "nothing to do" || { echo "the second pull was not a no-op" >&2; exit 1; }

# nix's store: the same path made valid once (from the same cache), so every copy is a no-op
nixat() {
    NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$work/nix/var" NIX_LOG_DIR="$work/nix/log" \
        NIX_REMOTE="local?root=$work/nix" HOME="$work/nixhome" "$oracle" --exec nix --quiet \
        --extra-experimental-features nix-command "$@"
}
have_nix=1
nixat copy --from "$url" --option trusted-public-keys "$pub" "$top" > /dev/null 2>&1 || have_nix=0

# stats NAME CMD...: REPS runs, prints "median best" in ms (µs resolution)
stats() {
    local i s e
    local -a t=()
    for i in $(seq 1 "$REPS"); do
        s=$(date +%s%N)
        "$@" > /dev/null 2>&1
        e=$(date +%s%N)
        t+=($(((e - s) / 1000)))
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f %.1f\n", a[int((NR + 1) / 2)] / 1000, a[1] / 1000 }'
}
read -r pull_med pull_best < <(stats pull)
read -r curl_med curl_best < <(stats curl -sf -o /dev/null "$url/hosts/h1")
read -r start_med start_best < <(stats "$FLAKECTL" version)
if [ "$have_nix" = 1 ]; then
    read -r nix_med nix_best < <(stats nixat copy --from "$url" --option trusted-public-keys "$pub" "$top")
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 0.001; printf "%.2f", a / b }'; }

echo
echo "no-op pull of host h1 from nginx on 127.0.0.1 (median / best of $REPS runs):"
printf "  %-44s %7s ms  %7s ms\n" "flakectl pull (no-op)" "$pull_med" "$pull_best"
printf "  %-44s %7s ms  %7s ms   pull/curl %s\n" "curl of the same pointer (one request)" "$curl_med" "$curl_best" "$(ratio "$pull_med" "$curl_med")"
if [ "$have_nix" = 1 ]; then
    printf "  %-44s %7s ms  %7s ms   pull/nix %s\n" "nix copy --from (path already valid)" "$nix_med" "$nix_best" "$(ratio "$pull_med" "$nix_med")"
else
    echo "  nix copy: not measured (the nix oracle could not run here)"
fi
printf "  %-44s %7s ms  %7s ms\n" "flakectl version (process start)" "$start_med" "$start_best"
# the request alone, as curl times it (without its process start)
req_med=$(for i in $(seq 1 "$REPS"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url/hosts/h1"; done |
    sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')
printf "  %-44s %7s ms\n" "the request alone (curl's time_total)" "$req_med"
printf "  no-op pull: %s ms in all, the request included (goal: under 100 ms plus one request)\n" "$pull_med"
echo "first pull (substitute $(ls "$state/store" | wc -l) paths + activate): $first ms"
