#!/usr/bin/env bash
# kill9.sh - the crash-safety figure of issue 20: kill -9 (the whole process group, as a
# power cut would stop everything) at a random moment of `switch`, `build`, `store add` and
# `rollback`, then check the state a user would meet next:
#   - `store verify --check-contents` passes (without --repair),
#   - every generation link, the default and /run/flakectl/current resolve to a toplevel
#     whose profile.json exists,
#   - the next operation of the same kind succeeds.
# Prints "N broken states in M kills" per kind and in total. Not a pass/fail test; bounded by
# KILLS (per kind, default 25). Usage: FLAKECTL=build/flakectl tests/bench/kill9.sh
set -uo pipefail
FLAKECTL=${FLAKECTL:-$(dirname "$0")/../../build/flakectl}
FLAKECTL=$(realpath "$FLAKECTL")
KILLS=${KILLS:-25}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME=$T/cache
ROOT=$T/root STATE=$T/state F=$T/flake
mkdir -p "$ROOT" "$F" "$T/tree"
source "$(dirname "$0")/../e2e/lib/host-flake.bash"
host_flake "$F"
host() { # N
    cat >"$F/host.nix" <<EOF
{ pkgs, ... }: {
  networking.hostName = "h";
  environment.etc."round".text = "round $1\n";
  environment.etc."copied" = { text = "copy $1\n"; mode = "0644"; };
  users.users.u$(($1 % 3)) = { isNormalUser = true; };
  environment.systemPackages = [ (pkgs.writeShellScriptBin "tool$1" "echo $1") ];
  system.activationScripts.pause.text = "sleep 0.0\$((RANDOM % 3))";
}
EOF
}
fl() { "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" "$@"; }

# broken: prints why the state is broken, nothing when it is sound. A broken store is
# repaired afterwards, so that each kill is judged by what it did itself.
broken() {
    local l t
    if ! fl store verify --check-contents >"$T/verify" 2>&1; then
        echo "store verify: $(head -3 "$T/verify" | tr '\n' ' ')"
        fl store verify --repair >/dev/null 2>&1
        return
    fi
    for l in "$ROOT/run/flakectl/current" "$STATE/profiles/system" "$STATE"/profiles/system-*-link; do
        [ -L "$l" ] || continue
        t=$(readlink -f "$l")
        [ -n "$t" ] && [ -f "$t/profile.json" ] || { echo "$l points at a missing toplevel"; return; }
    done
}

# kill_at CMD...: runs CMD in its own session, kills the group after a random delay.
kill_at() {
    local max=$1
    shift
    setsid "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(awk -v m="$max" -v r="$RANDOM" 'BEGIN { printf "%.3f", m * r / 32768 }')"
    kill -9 -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

total_broken=0 total=0
report() { # KIND BROKEN KILLS
    printf '%-10s %d broken states in %d kills\n' "$1" "$2" "$3"
    total_broken=$((total_broken + $2))
    total=$((total + $3))
}

host 0
fl switch --host h >/dev/null 2>&1 || { echo "setup switch failed" >&2; exit 1; }

# switch: each round a new configuration; after the kill the same switch must complete.
b=0
for i in $(seq 1 "$KILLS"); do
    host "$i"
    kill_at 1.2 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" switch --host h
    why=$(broken)
    if [ -z "$why" ] && ! fl switch --host h >"$T/next" 2>&1; then why="the next switch failed: $(tail -2 "$T/next" | tr '\n' ' ')"; fi
    [ -z "$why" ] && [ "$(cat "$ROOT/etc/static/round" 2>/dev/null)" != "round $i" ] && why="the next switch left /etc at $(cat "$ROOT/etc/static/round" 2>&1)"
    [ -n "$why" ] && { b=$((b + 1)); echo "  switch $i: $why"; }
done
report switch "$b" "$KILLS"

# build: a new configuration each round (its package is built too).
b=0
for i in $(seq 1 "$KILLS"); do
    host "$((1000 + i))"
    kill_at 0.8 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" --flake "$F" build --host h --no-link
    why=$(broken)
    [ -z "$why" ] && ! fl build --host h --no-link >"$T/next" 2>&1 && why="the next build failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -n "$why" ] && { b=$((b + 1)); echo "  build $i: $why"; }
done
report build "$b" "$KILLS"

# store add: a tree of 300 files and 2 MiB, different each round.
for k in $(seq 1 300); do echo "file $k" >"$T/tree/f$k"; done
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/tree/big"
b=0
for i in $(seq 1 "$KILLS"); do
    echo "round $i" >"$T/tree/round"
    kill_at 0.3 "$FLAKECTL" --state-dir "$STATE" store add "$T/tree"
    why=$(broken)
    [ -z "$why" ] && ! fl store add "$T/tree" >"$T/next" 2>&1 && why="the next add failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -n "$why" ] && { b=$((b + 1)); echo "  store add $i: $why"; }
done
report "store add" "$b" "$KILLS"

# rollback: back and forth between the last two generations (--to), killed each time.
last=$(ls "$STATE/profiles" | sed -n 's/^system-\([0-9]*\)-link$/\1/p' | sort -n | tail -1)
b=0
for i in $(seq 1 "$KILLS"); do
    to=$((last - i % 2))
    kill_at 0.6 "$FLAKECTL" --root "$ROOT" --state-dir "$STATE" rollback --to "$to"
    why=$(broken)
    [ -z "$why" ] && ! fl rollback --to "$to" >"$T/next" 2>&1 && why="the next rollback failed: $(tail -2 "$T/next" | tr '\n' ' ')"
    [ -z "$why" ] && [ "$(readlink "$STATE/profiles/system")" != "system-$to-link" ] && why="the next rollback left the default at $(readlink "$STATE/profiles/system")"
    [ -n "$why" ] && { b=$((b + 1)); echo "  rollback $i: $why"; }
done
report rollback "$b" "$KILLS"
printf '%-10s %d broken states in %d kills\n' total "$total_broken" "$total"
